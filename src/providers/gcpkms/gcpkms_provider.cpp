#include "providers/gcpkms/gcpkms_provider.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/gcpkms/kms_messages.hpp"
#include "providers/gcpkms/settings.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::gcpkms {

namespace {

constexpr std::string_view kLabel = "trousseau.io/gcpkms/v1";
constexpr std::string_view kProbeContext = "trousseau.io/probe";
constexpr std::string_view kVersions = "/cryptoKeyVersions/";
constexpr std::uint8_t kFormat = 1;

}  // namespace

std::optional<std::string> crypto_key_of_version(std::string_view version) {
  const auto at = version.rfind(kVersions);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view n = version.substr(at + kVersions.size());
  if (n.empty() || n.size() > 18 || n.front() == '0' ||
      !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::string key(version.substr(0, at));
  if (!valid_crypto_key_name(key)) return std::nullopt;
  return key;
}

Bytes share_aad(ByteView context) {
  Bytes aad(kLabel.begin(), kLabel.end());
  aad.push_back(0);
  aad.insert(aad.end(), context.begin(), context.end());
  return aad;
}

GcpKmsProvider::GcpKmsProvider(std::string name, asio::any_io_executor executor,
                               std::unique_ptr<KmsApi> api, Config config)
    : Provider(std::move(name), "gcpkms"),
      executor_(std::move(executor)),
      api_(std::move(api)),
      config_(std::move(config)),
      version_(config_.version) {}

std::string GcpKmsProvider::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

void GcpKmsProvider::set_version(const std::string& version) {
  std::lock_guard lock(mutex_);
  if (version == version_) return;
  log::info("key version changed", {{"provider", name()},
                                     {"from", version_.empty() ? std::string("unresolved") : version_},
                                     {"to", version}});
  version_ = version;
}

std::string GcpKmsProvider::key_identity() const {
  std::string v = version();
  return v.empty() ? config_.key_name + " unresolved" : v;
}

bool GcpKmsProvider::owns_key_version(std::string_view key_version) const {
  const std::optional<std::string> key = crypto_key_of_version(key_version);
  return key && standing_among(*key, config_.key_name, config_.previous_keys) != KeyStanding::foreign;
}

template <typename Op, typename F>
void GcpKmsProvider::encrypt(const std::shared_ptr<Op>& op, const std::string& version,
                             std::shared_ptr<const SecretBytes> plain,
                             std::shared_ptr<const Bytes> aad, http::Deadline deadline, int attempt,
                             F&& next) {
  KmsCall call{"encrypt", "POST", "/v1/" + version + ":encrypt",
               encrypt_request(plain->view(), *aad), true, false};
  api_->call(op, std::move(call), deadline,
             [this, op, version, plain, aad, deadline, attempt,
              next = std::forward<F>(next)](Error e, std::string answer) mutable {
               if (!e.ok()) return next(std::move(e), Bytes());
               bool corrupt = false;
               Result<EncryptAnswer> r = parse_encrypt_response(answer, corrupt);
               if (corrupt && attempt < kIntegrityAttempts) {  // a cancellation stops it before sending
                 log::warn("discarded a Cloud KMS answer that failed its CRC32C check; asking again",
                           {{"provider", name()}, {"error", r.error().message()}});
                 return encrypt(op, version, std::move(plain), std::move(aad), deadline, attempt + 1,
                                std::move(next));
               }
               if (!r.ok()) return next(r.error(), Bytes());
               if (r->name != version) {
                 return next(unavailable("encrypt: Cloud KMS answered for " + quote(r->name) +
                                         ", we asked " + version),
                             Bytes());
               }
               next(Error(), std::move(r->ciphertext));
             });
}

template <typename Op, typename F>
void GcpKmsProvider::decrypt(const std::shared_ptr<Op>& op, const std::string& crypto_key,
                             std::shared_ptr<const Bytes> ciphertext,
                             std::shared_ptr<const Bytes> aad, http::Deadline deadline, int attempt,
                             F&& next) {
  KmsCall call{"decrypt", "POST", "/v1/" + crypto_key + ":decrypt",
               decrypt_request(*ciphertext, *aad), true, true};
  api_->call(op, std::move(call), deadline,
             [this, op, crypto_key, ciphertext, aad, deadline, attempt,
              next = std::forward<F>(next)](Error e, std::string answer) mutable {
               if (!e.ok()) return next(std::move(e), SecretBytes());
               bool corrupt = false;
               Result<SecretBytes> r = parse_decrypt_response(answer, corrupt);
               if (corrupt && attempt < kIntegrityAttempts) {  // a cancellation stops it before sending
                 log::warn("discarded a Cloud KMS answer that failed its CRC32C check; asking again",
                           {{"provider", name()}, {"error", r.error().message()}});
                 return decrypt(op, crypto_key, std::move(ciphertext), std::move(aad), deadline,
                                attempt + 1, std::move(next));
               }
               if (!r.ok()) return next(r.error(), SecretBytes());
               next(Error(), std::move(r).value());
             });
}

void GcpKmsProvider::wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                               asio::any_completion_handler<WrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, WrapResult>>(executor_, options.lease,
                                                           std::move(handler));
  op->listen_for_cancellation();
  const std::string v = version();
  // Copies: the arguments are borrowed for this call only.
  auto plain = std::make_shared<const SecretBytes>(share);
  auto aad = std::make_shared<const Bytes>(share_aad(context));
  asio::post(op->strand(), [this, op, v, plain, aad, deadline = options.deadline]() mutable {
    if (v.empty()) {
      return op->complete(unavailable("the key's primary version is not resolved yet (Cloud KMS "
                                      "was unreachable at start-up); a probe resolves it"),
                          WrapResult());
    }
    encrypt(op, v, std::move(plain), std::move(aad), deadline, 1,
            [op, v](Error e, Bytes ciphertext) {
              WrapResult result;
              if (e.ok()) {
                result.wrapped.reserve(1 + ciphertext.size());
                result.wrapped.push_back(kFormat);
                result.wrapped.insert(result.wrapped.end(), ciphertext.begin(), ciphertext.end());
                result.key_version = v;
              }
              op->complete(std::move(e), std::move(result));
            });
  });
}

void GcpKmsProvider::unwrap_impl(const CallOptions& options, ByteView context,
                                 std::string_view key_version, ByteView wrapped,
                                 asio::any_completion_handler<UnwrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, SecretBytes>>(executor_, options.lease,
                                                            std::move(handler));
  op->listen_for_cancellation();
  // Only versions of our own keys go to Cloud KMS: the envelope is not
  // authenticated yet, and the service would decrypt under any key our
  // token reaches (a confused deputy).
  Error early;
  std::optional<std::string> key = crypto_key_of_version(key_version);
  if (!owns_key_version(key_version)) {
    early = invalid_argument("share names key version " + quote(key_version) +
                             ", which belongs neither to the configured key nor to previous_keys");
  } else if (wrapped.size() < 2 || wrapped[0] != kFormat) {
    early = integrity_error(wrapped.empty() ? "wrapped share is empty"
                                            : "unknown wrapped-share format " + std::to_string(wrapped[0]));
  }
  auto ciphertext = std::make_shared<const Bytes>(wrapped.empty() ? wrapped.begin() : wrapped.begin() + 1,
                                                  wrapped.end());
  auto aad = std::make_shared<const Bytes>(share_aad(context));
  asio::post(op->strand(), [this, op, early, key = key.value_or(""), ciphertext, aad,
                            deadline = options.deadline]() mutable {
    if (!early.ok()) return op->complete(early, SecretBytes());
    decrypt(op, key, std::move(ciphertext), std::move(aad), deadline, 1,
            [op](Error e, SecretBytes share) { op->complete(std::move(e), std::move(share)); });
  });
}

void GcpKmsProvider::probe_impl(const CallOptions& options,
                                asio::any_completion_handler<ProbeSignature> handler) {
  auto op = std::make_shared<Operation<Error>>(executor_, options.lease, std::move(handler));
  op->listen_for_cancellation();
  const auto deadline = options.deadline;  // the health monitor's probe budget, for every step
  asio::post(op->strand(), [this, op, deadline] {
    KmsCall get{"get key", "GET", "/v1/" + config_.key_name, "", false, false};
    api_->call(op, std::move(get), deadline, [this, op, deadline](Error e, std::string answer) {
      if (!e.ok()) return op->complete(e);
      Result<CryptoKeyInfo> k = parse_crypto_key(answer);
      if (!k.ok()) return op->complete(k.error().prefixed("get key"));
      if (k->purpose != "ENCRYPT_DECRYPT") {
        return op->complete(Error(Code::failed_precondition,
                                  "get key: the key's purpose is " + quote(k->purpose, 64) +
                                      ", not ENCRYPT_DECRYPT"));
      }
      if (k->primary.empty()) return op->complete(unavailable("get key: the key has no primary version"));
      if (crypto_key_of_version(k->primary) != config_.key_name) {
        return op->complete(unavailable("get key: the primary " + quote(k->primary) +
                                        " is not a version of " + config_.key_name));
      }
      if (k->primary_state != "ENABLED") {
        return op->complete(Error(Code::failed_precondition, "get key: the primary version " +
                                                                 k->primary + " is " +
                                                                 quote(k->primary_state, 32)));
      }
      set_version(k->primary);
      auto zero = std::make_shared<const SecretBytes>(Bytes(32, 0));
      auto aad = std::make_shared<const Bytes>(share_aad(as_bytes(kProbeContext)));
      const std::string crypto_key = config_.key_name;
      encrypt(op, k->primary, zero, aad, deadline, 1,
              [this, op, zero, aad, crypto_key, deadline](Error e2, Bytes ciphertext) {
                if (!e2.ok()) return op->complete(e2);
                decrypt(op, crypto_key, std::make_shared<const Bytes>(std::move(ciphertext)), aad,
                        deadline, 1, [op, zero](Error e3, SecretBytes back) {
                          if (!e3.ok()) return op->complete(e3);
                          if (!back.equals(zero->view())) {
                            return op->complete(integrity_error("probe: decrypt returned another value"));
                          }
                          op->complete(Error());
                        });
              });
    });
  });
}

}  // namespace trousseau::providers::gcpkms
