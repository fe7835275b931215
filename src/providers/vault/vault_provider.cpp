#include "providers/vault/vault_provider.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>

#include "common/log.hpp"
#include "common/text.hpp"

namespace trousseau::providers::vault {

namespace {

constexpr std::string_view kProbeContext = "trousseau.io/probe";

Error cancelled_before_sending(const std::string& what) {
  return Error(Code::cancelled, what + ": cancelled before the request was sent");
}

Error unusable_key(const KeyInfo& k) {
  return Error(Code::failed_precondition,
               "transit key type " + quote(k.type) +
                   " binds no share context: use a derived key, or an AEAD type "
                   "(aes256-gcm96, aes128-gcm96, chacha20-poly1305)");
}

}  // namespace

std::optional<unsigned> version_in(std::string_view key_path, std::string_view key_version) {
  if (!key_version.starts_with(key_path)) return std::nullopt;
  const std::string_view rest = key_version.substr(key_path.size());
  if (!rest.starts_with("@v")) return std::nullopt;
  const std::string_view digits = rest.substr(2);
  if (digits.empty() || digits.size() > 9 || digits[0] == '0') return std::nullopt;
  unsigned n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n;
}

VaultProvider::VaultProvider(std::string name, asio::any_io_executor executor,
                             std::shared_ptr<VaultClient> client, std::shared_ptr<Session> session,
                             Config config)
    : Provider(std::move(name), "vault"),
      executor_(std::move(executor)),
      client_(std::move(client)),
      session_(std::move(session)),
      config_(std::move(config)) {
  identity_ = config_.origin + "/v1/" + config_.key_path + "@v?";
  if (config_.key_info) set_key_info(*config_.key_info);
}

VaultProvider::~VaultProvider() { session_->stop(); }

std::string VaultProvider::key_identity() const {
  std::lock_guard lock(mutex_);
  return identity_;
}

void VaultProvider::set_key_info(const KeyInfo& info) {
  std::lock_guard lock(mutex_);
  std::string fresh = config_.origin + "/v1/" + version_string(info.latest_version);
  if (key_ && fresh != identity_) {
    log::info("key identity changed", {{"provider", name()}, {"key_identity", fresh}});
  }
  identity_ = std::move(fresh);
  key_ = info;
}

std::optional<KeyInfo> VaultProvider::key_info() const {
  std::lock_guard lock(mutex_);
  return key_;
}

std::string VaultProvider::version_string(unsigned version) const {
  return config_.key_path + "@v" + std::to_string(version);
}

std::optional<unsigned> VaultProvider::version_of(std::string_view key_version) const {
  return version_in(config_.key_path, key_version);
}

bool VaultProvider::owns_key_version(std::string_view key_version) const {
  return version_of(key_version).has_value();
}

void VaultProvider::start_call(std::shared_ptr<OperationState> op, Call c, http::Deadline deadline,
                               bool retried, Done done) {
  if (op->cancelled()) {
    secure_wipe(c.body);
    return std::move(done)(cancelled_before_sending(c.what), std::string());
  }
  auto slot = op->child_slot();
  auto strand = op->strand();
  session_->async_token(
      deadline,
      asio::bind_cancellation_slot(
          slot, asio::bind_executor(strand, [this, op = std::move(op), c = std::move(c), deadline,
                                             retried, done = std::move(done)](
                                                Error e, Token token) mutable {
            // The token may have been handed back just before the
            // cancellation landed: then nothing was in flight to cancel.
            if (e.ok() && op->cancelled()) e = cancelled_before_sending(c.what);
            if (!e.ok()) {
              secure_wipe(c.body);
              return std::move(done)(e.prefixed(c.what), std::string());
            }
            send(std::move(op), std::move(c), deadline, retried, std::move(token), std::move(done));
          })));
}

void VaultProvider::send(std::shared_ptr<OperationState> op, Call c, http::Deadline deadline,
                         bool retried, Token token, Done done) {
  // A copy goes out (the client wipes it); ours stays for a retry after 403.
  std::string body;
  body.reserve(c.body.size());
  body += c.body;
  http::Request req = client_->request(c.method, c.path, std::move(body), token, c.sensitive);
  auto slot = op->child_slot();
  auto strand = op->strand();
  client_->http().async_request(
      std::move(req), deadline,
      asio::bind_cancellation_slot(
          slot, asio::bind_executor(strand, [this, op = std::move(op), c = std::move(c), deadline,
                                             retried, token, done = std::move(done)](
                                                Error err, http::Response r) mutable {
            if (err.ok() && (r.status == 200 || r.status == 204)) {
              secure_wipe(c.body);
              return std::move(done)(Error(), std::move(r.body));
            }
            if (err.ok() && r.status == 403 && !retried && !op->cancelled() &&
                session_->refused(token)) {
              log::debug("Vault refused the token; logging in again",
                         {{"provider", name()}, {"call", c.what}});
              return start_call(std::move(op), std::move(c), deadline, true, std::move(done));
            }
            err = err.ok() || (err.code() == Code::unavailable && r.status >= 500)
                      ? map_vault_error(c.what, r)
                      : err.prefixed(c.what);
            if (c.sensitive) secure_wipe(r.body);
            secure_wipe(c.body);
            std::move(done)(std::move(err), std::string());
          })));
}

template <typename Op>
void VaultProvider::with_key(const std::shared_ptr<Op>& op, http::Deadline deadline, bool fresh,
                             KeyDone next) {
  if (!fresh) {
    if (std::optional<KeyInfo> k = key_info()) return next(Error(), *k);
  }
  Call c{"GET", config_.mount + "/keys/" + config_.key, "", false, "read key"};
  call(op, std::move(c), deadline, [this, next = std::move(next)](Error e, std::string body) {
    Result<KeyInfo> k = e.ok() ? parse_key_answer(body) : Result<KeyInfo>(e);
    if (!k.ok()) return next(k.error(), KeyInfo());
    set_key_info(*k);
    next(Error(), *k);
  });
}

void VaultProvider::wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                              asio::any_completion_handler<WrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, WrapResult>>(executor_, options.lease,
                                                           std::move(handler));
  op->listen_for_cancellation();
  // Copies: the arguments are borrowed for this call only.
  SecretBytes plain(share);
  Bytes ctx(context.begin(), context.end());
  asio::post(op->strand(), [this, op, plain = std::make_shared<SecretBytes>(std::move(plain)),
                            ctx = std::move(ctx), deadline = options.deadline]() mutable {
    with_key(op, deadline, false, [this, op, plain, ctx, deadline](Error e, KeyInfo key) {
      if (!e.ok()) return op->complete(e, WrapResult());
      const std::string_view field = context_field(key);
      if (field.empty()) return op->complete(unusable_key(key), WrapResult());
      Call c{"POST", config_.mount + "/encrypt/" + config_.key,
             encrypt_body(plain->view(), field, ctx), true, "encrypt"};
      call(op, std::move(c), deadline, [this, op, key](Error e2, std::string body) {
        Result<Ciphertext> ct = e2.ok() ? parse_encrypt_answer(body) : Result<Ciphertext>(e2);
        if (!ct.ok()) return op->complete(ct.error(), WrapResult());
        if (ct->version > key.latest_version) {
          KeyInfo newer = key;  // rotated since we last looked
          newer.latest_version = ct->version;
          set_key_info(newer);
        }
        op->complete(Error(), WrapResult{std::move(ct->blob), version_string(ct->version)});
      });
    });
  });
}

void VaultProvider::unwrap_impl(const CallOptions& options, ByteView context,
                                std::string_view key_version, ByteView wrapped,
                                asio::any_completion_handler<UnwrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, SecretBytes>>(executor_, options.lease,
                                                            std::move(handler));
  op->listen_for_cancellation();
  // The envelope is not authenticated yet: name no key but ours, and no
  // version Vault has retired (known from the last key read).
  Error early;
  const std::optional<unsigned> version = version_of(key_version);
  const std::optional<KeyInfo> known = key_info();
  if (!version) {
    early = invalid_argument("share names key " + quote(key_version) + ", not this provider's " +
                             config_.key_path);
  } else if (known && *version < known->min_decryption_version) {
    early = invalid_argument("share was wrapped by key version " + std::to_string(*version) +
                             ", below the key's min_decryption_version " +
                             std::to_string(known->min_decryption_version) + " (retired in Vault)");
  } else if (wrapped.empty()) {
    early = integrity_error("empty wrapped share");
  }
  std::string ciphertext =
      early.ok() ? "vault:v" + std::to_string(*version) + ":" + base64_encode(wrapped) : "";
  Bytes ctx(context.begin(), context.end());
  asio::post(op->strand(), [this, op, early, ciphertext = std::move(ciphertext),
                            ctx = std::move(ctx), deadline = options.deadline]() mutable {
    if (!early.ok()) return op->complete(early, SecretBytes());
    with_key(op, deadline, false,
             [this, op, ciphertext = std::move(ciphertext), ctx, deadline](Error e, KeyInfo key) {
               if (!e.ok()) return op->complete(e, SecretBytes());
               const std::string_view field = context_field(key);
               if (field.empty()) return op->complete(unusable_key(key), SecretBytes());
               Call c{"POST", config_.mount + "/decrypt/" + config_.key,
                      decrypt_body(ciphertext, field, ctx), true, "decrypt"};
               call(op, std::move(c), deadline, [op](Error e2, std::string body) {
                 Result<SecretBytes> plain =
                     e2.ok() ? parse_decrypt_answer(body) : Result<SecretBytes>(e2);
                 if (!plain.ok()) return op->complete(plain.error(), SecretBytes());
                 op->complete(Error(), std::move(plain.value()));
               });
             });
  });
}

void VaultProvider::probe_impl(const CallOptions& options,
                               asio::any_completion_handler<ProbeSignature> handler) {
  auto op = std::make_shared<Operation<Error>>(executor_, options.lease, std::move(handler));
  op->listen_for_cancellation();
  const auto deadline = options.deadline;  // the health monitor's probe budget, for every step
  asio::post(op->strand(), [this, op, deadline] {
    with_key(op, deadline, true, [this, op, deadline](Error e, KeyInfo key) {
      if (!e.ok()) return op->complete(e);
      const std::string_view field = context_field(key);
      if (field.empty()) return op->complete(unusable_key(key));
      const Bytes zero(32, 0);
      Call enc{"POST", config_.mount + "/encrypt/" + config_.key,
               encrypt_body(zero, field, as_bytes(kProbeContext)), false, "probe encrypt"};
      call(op, std::move(enc), deadline, [this, op, deadline, field](Error e2, std::string body) {
        Result<Ciphertext> ct = e2.ok() ? parse_encrypt_answer(body) : Result<Ciphertext>(e2);
        if (!ct.ok()) return op->complete(ct.error());
        const std::string text =
            "vault:v" + std::to_string(ct->version) + ":" + base64_encode(ct->blob);
        Call dec{"POST", config_.mount + "/decrypt/" + config_.key,
                 decrypt_body(text, field, as_bytes(kProbeContext)), false, "probe decrypt"};
        call(op, std::move(dec), deadline, [op](Error e3, std::string answer) {
          Result<SecretBytes> plain = e3.ok() ? parse_decrypt_answer(answer) : Result<SecretBytes>(e3);
          if (!plain.ok()) return op->complete(plain.error());
          if (!plain->equals(Bytes(32, 0))) {
            return op->complete(integrity_error("probe: decrypt returned another block"));
          }
          op->complete(Error());
        });
      });
    });
  });
}

void VaultProvider::legacy_decrypt_impl(const CallOptions& options, ByteView ciphertext,
                                        asio::any_completion_handler<UnwrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, SecretBytes>>(executor_, options.lease,
                                                            std::move(handler));
  op->listen_for_cancellation();
  const std::string_view text = as_chars(ciphertext);
  Error early;
  const auto split = split_ciphertext(text);
  Bytes payload;
  if (!split || split->second.empty() || !base64_decode(split->second, payload)) {
    early = invalid_argument("not a Vault transit ciphertext (vault:v<N>:<base64>)");
  }
  std::string body = early.ok() ? decrypt_body(text, "", {}) : "";
  asio::post(op->strand(), [this, op, early, body = std::move(body),
                            deadline = options.deadline]() mutable {
    if (!early.ok()) return op->complete(early, SecretBytes());
    Call c{"POST", config_.mount + "/decrypt/" + config_.key, std::move(body), true,
           "legacy decrypt"};
    call(op, std::move(c), deadline, [op](Error e, std::string answer) {
      // Trousseau v1 sent base64(DEK) as Vault's `plaintext`, which the API
      // decodes: Vault holds the DEK itself, and its answer's one base64
      // layer (removed by parse_decrypt_answer) is the one v1 removed.
      Result<SecretBytes> plain = e.ok() ? parse_decrypt_answer(answer) : Result<SecretBytes>(e);
      if (!plain.ok()) return op->complete(plain.error(), SecretBytes());
      op->complete(Error(), std::move(plain.value()));
    });
  });
}

}  // namespace trousseau::providers::vault
