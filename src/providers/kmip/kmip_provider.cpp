#include "providers/kmip/kmip_provider.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/kmip/share_format.hpp"

namespace trousseau::providers::kmip {

namespace {

constexpr std::string_view kProbeContext = "trousseau.io/probe";

std::string mode_name(Mode m) { return m == Mode::gcm ? "aes-gcm" : "aes-cbc"; }

CryptoParams params(Mode mode, std::size_t tag_length) {
  CryptoParams p;
  p.mode = mode == Mode::gcm ? CryptoParams::Mode::gcm : CryptoParams::Mode::cbc;
  p.tag_length = tag_length;
  return p;
}

}  // namespace

void resolve_key(Client& client, const std::shared_ptr<OperationState>& op, const KeyRef& key,
                 Clock::time_point deadline, std::function<void(Error, KeyAttributes)> next) {
  auto read = [&client, op, deadline, next](std::string uid) mutable {
    client.call(
        op,
        [uid](ProtocolVersion v, Bytes& out) {
          get_attributes(out, v, uid);
          return Error();
        },
        deadline,
        [uid, next = std::move(next), limits = client.options().limits](
            Error e, ProtocolVersion v, SecretBytes response) mutable {
          if (!e.ok()) return next(e.prefixed("Get Attributes"), KeyAttributes());
          Result<KeyAttributes> a = parse_get_attributes(response.view(), v, uid, limits);
          if (!a.ok()) return next(a.error().prefixed("Get Attributes"), KeyAttributes());
          if (Error bad = check_usable(*a); !bad.ok()) return next(std::move(bad), KeyAttributes());
          next(Error(), std::move(a).value());
        });
  };
  if (!key.uid.empty()) return read(key.uid);
  client.call(
      op,
      [name = key.name](ProtocolVersion v, Bytes& out) {
        locate_by_name(out, v, name);
        return Error();
      },
      deadline,
      [name = key.name, read = std::move(read), next, limits = client.options().limits](
          Error e, ProtocolVersion v, SecretBytes response) mutable {
        if (!e.ok()) return next(e.prefixed("Locate"), KeyAttributes());
        Result<std::vector<std::string>> uids = parse_locate(response.view(), v, limits);
        if (!uids.ok()) return next(uids.error().prefixed("Locate"), KeyAttributes());
        if (uids->size() != 1) {
          return next(Error(Code::failed_precondition,
                            "Locate: " + std::to_string(uids->size()) + " keys are named " +
                                quote(name) + ": configure key_uid, or keep the name on one key"),
                      KeyAttributes());
        }
        read(std::move(uids->front()));
      });
}

std::string_view state_name(std::optional<State> state) {
  if (!state) return "unknown";
  switch (*state) {
    case State::pre_active: return "Pre-Active";
    case State::active: return "Active";
    case State::deactivated: return "Deactivated";
    case State::compromised: return "Compromised";
    case State::destroyed: return "Destroyed";
    case State::destroyed_compromised: return "Destroyed Compromised";
  }
  return "unknown";
}

Error check_usable(const KeyAttributes& a) {
  auto refuse = [&a](const std::string& why) {
    return Error(Code::failed_precondition, "key " + quote(a.uid) + " " + why);
  };
  if (a.object_type && *a.object_type != ObjectType::symmetric_key) return refuse("is not a symmetric key");
  if (!a.algorithm || *a.algorithm != CryptographicAlgorithm::aes) return refuse("is not an AES key");
  if (a.usage_mask && ((*a.usage_mask & usage::encrypt) == 0 || (*a.usage_mask & usage::decrypt) == 0)) {
    return refuse("does not allow both Encrypt and Decrypt (Cryptographic Usage Mask)");
  }
  return {};
}

std::string attribute_digest(const KeyAttributes& a) {
  return "sha256:" + hex_encode(sha256({as_bytes(a.digest_input())})).substr(0, 16);
}

KmipProvider::KmipProvider(std::string name, asio::any_io_executor executor,
                           std::shared_ptr<Client> client, Config config)
    : Provider(std::move(name), "kmip"),
      executor_(std::move(executor)),
      client_(std::move(client)),
      config_(std::move(config)),
      attributes_(config_.attributes) {
  if (attributes_) resolved_uids_.insert(attributes_->uid);
}

std::optional<KeyAttributes> KmipProvider::attributes() const {
  std::lock_guard lock(mutex_);
  return attributes_;
}

void KmipProvider::set_attributes(const KeyAttributes& a) {
  std::lock_guard lock(mutex_);
  const std::string before = attributes_ ? attributes_->uid + " " + attribute_digest(*attributes_) +
                                               " " + std::string(state_name(attributes_->state))
                                         : std::string("unresolved");
  const std::string after =
      a.uid + " " + attribute_digest(a) + " " + std::string(state_name(a.state));
  if (before != after) {
    log::info("KMIP key changed", {{"provider", name()}, {"from", before}, {"to", after}});
  }
  attributes_ = a;
  resolved_uids_.insert(a.uid);
}

std::string KmipProvider::key_identity() const {
  const std::string base = "kmip://" + client_->endpoint() + "/";
  std::optional<KeyAttributes> a = attributes();
  if (!a) return base + config_.key.describe() + " unresolved";
  return base + a->uid + " " + attribute_digest(*a) + " " + mode_name(config_.mode);
}

bool KmipProvider::owns_key_version(std::string_view v) const {
  if (std::find(config_.previous_key_uids.begin(), config_.previous_key_uids.end(), v) !=
      config_.previous_key_uids.end()) {
    return true;
  }
  std::lock_guard lock(mutex_);
  return resolved_uids_.find(v) != resolved_uids_.end();
}

void KmipProvider::encrypt(const std::shared_ptr<OperationState>& op, const std::string& uid,
                           ByteView context, ByteView share, Clock::time_point deadline,
                           std::function<void(Error, Bytes)> next) {
  const Mode mode = config_.mode;
  const CryptoParams p = params(mode, config_.tag_length);
  // Copied now: arguments are borrowed for the initiating call only.
  auto data = std::make_shared<SecretBytes>(mode == Mode::gcm ? SecretBytes(share)
                                                              : bind_context(context, share));
  auto aad = std::make_shared<Bytes>(mode == Mode::gcm ? Bytes(context.begin(), context.end()) : Bytes());
  const std::size_t plain_size = data->size();
  client_->call(
      op,
      [uid, p, data, aad](ProtocolVersion v, Bytes& out) {
        return kmip::encrypt(out, v, uid, p, data->view(), {}, *aad);
      },
      deadline,
      [uid, mode, p, plain_size, next = std::move(next), limits = client_->options().limits](
          Error e, ProtocolVersion v, SecretBytes response) mutable {
        if (!e.ok()) return next(e.prefixed("Encrypt"), Bytes());
        Result<EncryptResult> r = parse_encrypt(response.view(), v, uid, p, false, limits);
        if (!r.ok()) return next(r.error().prefixed("Encrypt"), Bytes());
        WrappedShare w;
        w.mode = mode;
        w.iv.assign(r->iv.begin(), r->iv.end());
        w.ciphertext.assign(r->data.begin(), r->data.end());
        if (mode == Mode::gcm) {
          if (r->tag.size() != p.tag_length) {
            return next(unavailable("Encrypt: the server returned a " + std::to_string(r->tag.size()) +
                                    "-byte GCM tag, not " + std::to_string(p.tag_length) +
                                    " (a server without GCM tags needs mode: cbc)"),
                        Bytes());
          }
          w.tag.assign(r->tag.begin(), r->tag.end());
          if (w.iv.size() < 12 || w.iv.size() > 16) {
            return next(unavailable("Encrypt: the server returned no usable GCM IV"), Bytes());
          }
          if (w.ciphertext.size() != plain_size) {
            return next(unavailable("Encrypt: the GCM ciphertext is not the share's size"), Bytes());
          }
        } else {
          if (w.iv.size() != 16) {
            return next(unavailable("Encrypt: the server returned no 16-byte CBC IV"), Bytes());
          }
          if (w.ciphertext.size() != (plain_size / 16 + 1) * 16) {
            return next(unavailable("Encrypt: the CBC ciphertext is not the padded share's size"),
                        Bytes());
          }
        }
        next(Error(), encode_wrapped(w));
      });
}

void KmipProvider::decrypt(const std::shared_ptr<OperationState>& op, const std::string& uid,
                           ByteView context, ByteView wrapped, Clock::time_point deadline,
                           std::function<void(Error, SecretBytes)> next) {
  Result<WrappedShare> w = decode_wrapped(wrapped);
  if (!w.ok()) {
    return asio::post(op->strand(), [next = std::move(next), e = w.error()]() mutable {
      next(std::move(e), SecretBytes());
    });
  }
  auto share = std::make_shared<WrappedShare>(std::move(w).value());
  const Bytes bound_context(context.begin(), context.end());
  const CryptoParams p = params(share->mode, share->tag.empty() ? 16 : share->tag.size());
  client_->call(
      op,
      [uid, p, share, bound_context](ProtocolVersion v, Bytes& out) {
        return kmip::decrypt(out, v, uid, p, share->ciphertext, share->iv,
                             share->mode == Mode::gcm ? ByteView(bound_context) : ByteView(),
                             share->tag);
      },
      deadline,
      [uid, share, bound_context, next = std::move(next), limits = client_->options().limits](
          Error e, ProtocolVersion v, SecretBytes response) mutable {
        if (!e.ok()) return next(e.prefixed("Decrypt"), SecretBytes());
        Result<ByteView> r = parse_decrypt(response.view(), v, uid, limits);
        if (!r.ok() && share->mode == Mode::cbc &&
            (r.error().code() == Code::integrity || r.error().code() == Code::unavailable)) {
          // The server answered, and refused the data (bad padding is a
          // Cryptographic or General Failure, as the server words it): the
          // same error as a digest mismatch, so that no answer is a
          // padding oracle (share_format.hpp).
          return next(not_authentic().prefixed("Decrypt"), SecretBytes());
        }
        if (!r.ok()) return next(r.error().prefixed("Decrypt"), SecretBytes());
        if (share->mode == Mode::gcm) {
          if (r->size() != share->ciphertext.size()) {
            return next(integrity_error("Decrypt: the share is not the ciphertext's size"), SecretBytes());
          }
          return next(Error(), SecretBytes(*r));
        }
        Result<SecretBytes> opened = open_bound(bound_context, *r);
        if (!opened.ok()) return next(opened.error().prefixed("Decrypt"), SecretBytes());
        next(Error(), std::move(opened).value());
      });
}

void KmipProvider::wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                             asio::any_completion_handler<WrapSignature> handler) {
  auto op = std::make_shared<providers::Operation<Error, WrapResult>>(executor_, options.lease, std::move(handler));
  op->listen_for_cancellation();
  std::optional<KeyAttributes> a = attributes();
  Error refused;
  if (!a) {
    refused = unavailable("the key is not resolved yet (the server was unreachable at start-up); a "
                          "probe resolves it");
  } else if (a->state != State::active) {
    refused = Error(Code::failed_precondition, "key " + quote(a->uid) + " is " +
                                                   std::string(state_name(a->state)) +
                                                   ", not Active: it cannot wrap");
  }
  if (!refused.ok()) {
    return asio::post(op->strand(), [op, refused]() mutable { op->complete(refused, WrapResult()); });
  }
  const std::string uid = a->uid;
  encrypt(op, uid, context, share, options.deadline, [op, uid](Error e, Bytes wrapped) {
    WrapResult result;
    if (e.ok()) result = {std::move(wrapped), uid};
    op->complete(std::move(e), std::move(result));
  });
}

void KmipProvider::unwrap_impl(const CallOptions& options, ByteView context,
                               std::string_view key_version, ByteView wrapped,
                               asio::any_completion_handler<UnwrapSignature> handler) {
  auto op = std::make_shared<providers::Operation<Error, SecretBytes>>(executor_, options.lease, std::move(handler));
  op->listen_for_cancellation();
  if (!owns_key_version(key_version)) {
    return asio::post(op->strand(), [op, v = std::string(key_version)] {
      op->complete(invalid_argument("the share names key " + quote(v) +
                                    ", which is not this provider's key nor a previous_key_uids entry"),
                   SecretBytes());
    });
  }
  decrypt(op, std::string(key_version), context, wrapped, options.deadline,
          [op](Error e, SecretBytes share) { op->complete(std::move(e), std::move(share)); });
}

void KmipProvider::probe_impl(const CallOptions& options,
                              asio::any_completion_handler<ProbeSignature> handler) {
  auto op = std::make_shared<providers::Operation<Error>>(executor_, options.lease, std::move(handler));
  op->listen_for_cancellation();
  const Clock::time_point deadline = options.deadline;
  asio::post(op->strand(), [this, op, deadline] {
    resolve_key(*client_, op, config_.key, deadline, [this, op, deadline](Error e, KeyAttributes a) {
      if (!e.ok()) return op->complete(std::move(e));
      set_attributes(a);
      if (a.state != State::active) {
        return op->complete(Error(Code::failed_precondition,
                                  "key " + quote(a.uid) + " is " + std::string(state_name(a.state)) +
                                      ", not Active: it cannot wrap"));
      }
      if (op->cancelled()) return op->complete(Error(Code::cancelled, "probe cancelled"));
      const std::string uid = a.uid;
      auto zero = std::make_shared<SecretBytes>(32);
      std::fill(zero->data(), zero->data() + zero->size(), std::uint8_t{0});
      encrypt(op, uid, as_bytes(kProbeContext), zero->view(), deadline,
              [this, op, uid, zero, deadline](Error e2, Bytes wrapped) {
                if (!e2.ok()) return op->complete(std::move(e2));
                if (op->cancelled()) return op->complete(Error(Code::cancelled, "probe cancelled"));
                decrypt(op, uid, as_bytes(kProbeContext), wrapped, deadline,
                        [op, zero](Error e3, SecretBytes back) {
                          if (e3.ok() && !back.equals(zero->view())) {
                            e3 = integrity_error("probe: Decrypt did not return what Encrypt was given");
                          }
                          op->complete(std::move(e3));
                        });
              });
    });
  });
}

}  // namespace trousseau::providers::kmip
