#include "providers/pkcs11/pkcs11_provider.hpp"

#include <tuple>

#include "common/completion.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "envelope/format.hpp"
#include "providers/pkcs11/blocking_call.hpp"
#include "providers/pkcs11/gcm.hpp"

namespace trousseau::providers::pkcs11 {

namespace {

/// A failed tag check as some modules report it: SoftHSM2 before 2.7
/// returns CKR_GENERAL_ERROR (softhsm/SoftHSMv2#689).
bool maybe_bad_tag(const Rv& rv) {
  return std::string_view(rv.function) == "C_Decrypt" &&
         (rv.value == CKR_GENERAL_ERROR || rv.value == CKR_FUNCTION_FAILED);
}

constexpr std::string_view kIdentityPrefix = "pkcs11:";

}  // namespace

std::string format_key_identity(std::string_view token_serial, ByteView key_id,
                                std::string_view label) {
  return std::string(kIdentityPrefix) + std::string(token_serial) + ":" +
         (key_id.empty() ? "label:" + std::string(label) : hex_encode(key_id));
}

bool may_be_key_with_id(std::string_view key_version, const std::optional<Bytes>& key_id) {
  if (!key_version.starts_with(kIdentityPrefix)) return false;
  if (!key_id) return true;
  const std::string suffix = ":" + hex_encode(*key_id);
  if (key_version.size() < kIdentityPrefix.size() + suffix.size() ||
      !key_version.ends_with(suffix)) {
    return false;
  }
  // Not a key without CKA_ID whose label happens to read as this id.
  return !key_version.substr(0, key_version.size() - suffix.size()).ends_with(":label");
}

Result<std::unique_ptr<Pkcs11Provider>> Pkcs11Provider::create(const std::string& name,
                                                               const Settings& s,
                                                               asio::any_io_executor io) {
  // Whoever calls create() names the provider in its errors (the server
  // does); these say only what failed.
  // Checked here even when the token is logged in already (by another
  // provider: the login belongs to the process), so a missing PIN, or one
  // in a file others can read, shows now.
  if (Result<PinVersion> pin = pin_version(s.pin); !pin.ok()) return pin.error();
  Result<std::unique_ptr<Module>> module = Module::load(s.module);
  if (!module.ok()) return module.error();
  const CK_FUNCTION_LIST& api = (*module)->api();
  Result<Token> token = find_token(api, s.token_label, s.slot);
  if (!token.ok()) return token.error();
  const std::string where = "token '" + token->label + "' (slot " + std::to_string(token->slot) + ")";

  auto sessions = std::make_unique<SessionPool>(api, token->slot, s.pin, s.sessions, s.read_write);
  KeySelector selector{s.key_label, s.key_id};
  Result<Key> key = [&]() -> Result<Key> {
    Result<SessionPool::Lease> lease = sessions->acquire();  // logs in
    if (!lease.ok()) return lease.error();
    return find_key(api, lease->handle(), selector);
  }();
  if (!key.ok()) return key.error().prefixed(where);

  std::string identity = format_key_identity(token->serial, key->id, key->label);
  if (identity.size() > envelope::kMaxKeyVersion) {
    return Error(Code::failed_precondition, where + ": the key's identity would exceed " +
                                                std::to_string(envelope::kMaxKeyVersion) +
                                                " bytes; give it a shorter CKA_ID");
  }
  log::info("PKCS#11 key ready", {{"provider", name}, {"key_identity", identity}});
  return std::unique_ptr<Pkcs11Provider>(new Pkcs11Provider(
      name, std::move(module.value()), std::move(sessions), std::move(selector),
      std::move(key.value()), std::move(identity), s.threads, s.thread_queue, std::move(io)));
}

Pkcs11Provider::Pkcs11Provider(std::string name, std::unique_ptr<Module> module,
                               std::unique_ptr<SessionPool> sessions, KeySelector selector, Key key,
                               std::string identity, unsigned threads, unsigned thread_queue,
                               asio::any_io_executor io)
    : Provider(std::move(name), "pkcs11"),
      module_(std::move(module)),
      sessions_(std::move(sessions)),
      selector_(std::move(selector)),
      key_id_(std::move(key.id)),
      key_(key.handle),
      identity_(std::move(identity)),
      io_(std::move(io)),
      pool_(threads, thread_queue) {}

Pkcs11Provider::~Pkcs11Provider() {
  pool_.join();  // lets queued calls finish (or skip, if cancelled) before the sessions close
}

template <typename Op>
Error Pkcs11Provider::with_session(Op op) {
  Rv rv;
  bool refind_key = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<SessionPool::Lease> lease = sessions_->acquire();
    if (!lease.ok()) return lease.error();
    if (refind_key) {
      // After a C_Logout the sessions stay open but the private key is gone
      // from them until we log in again.
      if (Error e = sessions_->ensure_login(*lease); !e.ok()) return e;
      Result<Key> key = find_key(module_->api(), lease->handle(), selector_);
      if (!key.ok()) return key.error();
      if (key->id != key_id_) {
        return Error(Code::failed_precondition, "the key " + describe(selector_) +
                                                    " now has another CKA_ID; restart to adopt it");
      }
      key_.store(key->handle);
    }
    rv = op(lease->handle(), key_.load());
    if (rv.ok()) return {};
    if (ckr_session_unusable(rv.value)) {
      // A lost session usually follows a logout or a re-inserted token,
      // which ends the other sessions and the key handle too.
      lease->discard();
    } else if (!ckr_key_handle_stale(rv.value)) {
      break;
    }
    // A dead key handle alone leaves the session usable: closing it could
    // close the token's last session and log us out.
    refind_key = true;
  }
  return to_error(rv);
}

Error Pkcs11Provider::seal(ByteView context, ByteView plaintext, Bytes& wrapped) {
  return with_session([&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
    return gcm_seal(module_->api(), session, key, context, plaintext, wrapped);
  });
}

Error Pkcs11Provider::open(ByteView context, ByteView wrapped, SecretBytes& plaintext) {
  bool key_works = false;
  Error e = with_session([&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
    Rv rv = gcm_open(module_->api(), session, key, context, wrapped, plaintext);
    // An unspecific failure: if the key still round-trips, the data was bad.
    if (maybe_bad_tag(rv)) key_works = gcm_self_test(module_->api(), session, key).ok();
    return rv;
  });
  if (!e.ok() && key_works) {
    return integrity_error(e.message() + ", and the key passes a self-test: the data is bad");
  }
  return e;
}

Error Pkcs11Provider::self_test() {
  return with_session([&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
    return gcm_self_test(module_->api(), session, key);
  });
}

void Pkcs11Provider::wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                               asio::any_completion_handler<WrapSignature> handler) {
  run_blocking(pool_, io_, options, std::move(handler),
               [this, context = Bytes(context.begin(), context.end()), share = SecretBytes(share)] {
                 WrapResult result;
                 Error e = seal(context, share.view(), result.wrapped);
                 if (e.ok()) result.key_version = identity_;
                 return std::tuple<Error, WrapResult>(std::move(e), std::move(result));
               });
}

void Pkcs11Provider::unwrap_impl(const CallOptions& options, ByteView context,
                                 std::string_view key_version, ByteView wrapped,
                                 asio::any_completion_handler<UnwrapSignature> handler) {
  Error early;
  if (!owns_key_version(key_version)) {
    early = invalid_argument("share was wrapped by key " + quote(key_version) +
                             ", which is not this provider's key " + identity_);
  } else if (wrapped.size() < kIvSize + kTagSize) {
    early = integrity_error("wrapped share too short");
  }
  if (!early.ok()) {
    post_completion(io_, std::move(handler), std::move(early), SecretBytes());
    return;
  }
  run_blocking(pool_, io_, options, std::move(handler),
               [this, context = Bytes(context.begin(), context.end()),
                wrapped = Bytes(wrapped.begin(), wrapped.end())] {
                 SecretBytes share;
                 Error e = open(context, wrapped, share);
                 return std::tuple<Error, SecretBytes>(std::move(e), std::move(share));
               });
}

void Pkcs11Provider::probe_impl(const CallOptions& options,
                                asio::any_completion_handler<ProbeSignature> handler) {
  run_blocking(pool_, io_, options, std::move(handler),
               [this] { return std::tuple<Error>(self_test()); });
}

}  // namespace trousseau::providers::pkcs11
