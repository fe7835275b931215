#include "providers/azurekv/azurekv_provider.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/text.hpp"
#include "providers/azurekv/kv_messages.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::azurekv {

namespace {

constexpr std::string_view kProbeContext = "trousseau.io/probe";
constexpr std::size_t kGcmIv = 12, kGcmTag = 16;

/// Key Vault and Managed HSM versions are 32 lower-case hex digits: no
/// other spelling of a version is ours.
bool valid_version(std::string_view v) {
  return v.size() == 32 && std::all_of(v.begin(), v.end(), [](char c) {
           return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
         });
}

std::string op_path(const Kid& k, Algorithm a, bool wrap) {
  const bool gcm = a == Algorithm::a256gcm;
  return "/keys/" + k.name + "/" + k.version + "/" +
         (wrap ? (gcm ? "encrypt" : "wrapkey") : (gcm ? "decrypt" : "unwrapkey"));
}

}  // namespace

std::optional<Kid> parse_kid(std::string_view kid, const http::Url& vault) {
  const auto keys = kid.find("/keys/");
  if (keys == std::string_view::npos) return std::nullopt;
  Result<http::Url> origin = http::Url::parse(kid.substr(0, keys));
  if (!origin.ok() || origin->target != "/" || origin->scheme != vault.scheme ||
      !http::iequals(origin->host, vault.host) || origin->port != vault.port) {
    return std::nullopt;
  }
  std::string_view rest = kid.substr(keys + 6);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Kid k{std::string(kid.substr(0, keys)), std::string(rest.substr(0, slash)),
        std::string(rest.substr(slash + 1))};
  if (!valid_key_name(k.name) || !valid_version(k.version)) return std::nullopt;
  return k;
}

AzureKvProvider::AzureKvProvider(std::string name, asio::any_io_executor executor,
                                 std::unique_ptr<KeyVaultApi> api, Config config)
    : Provider(std::move(name), "azurekv"),
      executor_(std::move(executor)),
      api_(std::move(api)),
      config_(std::move(config)),
      kid_(config_.kid),
      algorithm_(config_.algorithm) {}

std::optional<AzureKvProvider::Current> AzureKvProvider::current() const {
  std::lock_guard lock(mutex_);
  if (kid_.empty() || !algorithm_) return std::nullopt;
  return Current{kid_, *algorithm_};
}

bool AzureKvProvider::anyone_can_wrap() const {
  std::optional<Current> c = current();
  return !c || c->algorithm == Algorithm::rsa_oaep_256;
}

std::string AzureKvProvider::key_identity() const {
  std::optional<Current> c = current();
  if (!c) return api_->vault().scheme + "://" + api_->vault().host_header() + "/keys/" + config_.key_name + " unresolved";
  return c->kid + " " + std::string(algorithm_name(c->algorithm));
}

void AzureKvProvider::set_current(const std::string& kid, Algorithm algorithm) {
  std::lock_guard lock(mutex_);
  if (kid == kid_ && algorithm_ == algorithm) return;
  log::info("key version changed", {{"provider", name()},
                                     {"from", kid_.empty() ? std::string("unresolved") : kid_},
                                     {"to", kid},
                                     {"algorithm", algorithm_name(algorithm)}});
  kid_ = kid;
  algorithm_ = algorithm;
}

bool AzureKvProvider::owns_key_version(std::string_view key_version) const {
  // The configured vault (scheme, host, port), a key name we were given,
  // and a well-formed version: parse_kid checks all but the name.
  std::optional<Kid> k = parse_kid(key_version, api_->vault());
  return k && standing_among(k->name, config_.key_name, config_.previous_key_names) !=
                   KeyStanding::foreign;
}

template <typename Op, typename F>
void AzureKvProvider::remote_wrap(const std::shared_ptr<Op>& op, const std::string& kid,
                                  Algorithm a, const SecretBytes& key, ByteView aad,
                                  http::Deadline deadline, F&& next) {
  std::optional<Kid> k = parse_kid(kid, api_->vault());
  if (!k) return next(internal_error("current key id " + quote(kid) + " does not parse"), Bytes());
  const bool gcm = a == Algorithm::a256gcm;
  KvCall call{gcm ? "encrypt" : "wrapkey", "POST", op_path(*k, a, true),
              operation_request(algorithm_name(a), key.view(), gcm ? aad : ByteView()), true, false};
  api_->call(op, std::move(call), deadline,
             [kid, gcm, next = std::forward<F>(next)](Error e, std::string answer) mutable {
               if (!e.ok()) return next(std::move(e), Bytes());
               Result<OperationResult> r = parse_operation_result(answer);
               if (!r.ok()) return next(r.error().prefixed(gcm ? "encrypt" : "wrapkey"), Bytes());
               if (r->kid != kid) {
                 return next(integrity_error("the vault answered for key " + quote(r->kid) +
                                             ", we asked " + kid),
                             Bytes());
               }
               Bytes remote;
               if (gcm) {
                 if (r->iv.size() != kGcmIv || r->tag.size() != kGcmTag) {
                   return next(unavailable("encrypt: answer without a 12-byte iv and 16-byte tag"),
                               Bytes());
                 }
                 remote = r->iv;
                 remote.insert(remote.end(), r->tag.begin(), r->tag.end());
               }
               remote.insert(remote.end(), r->value.view().begin(), r->value.view().end());
               if (remote.empty() || remote.size() > 0xffff) {
                 return next(unavailable("wrapkey: empty or oversized answer"), Bytes());
               }
               next(Error(), std::move(remote));
             });
}

template <typename Op, typename F>
void AzureKvProvider::remote_unwrap(const std::shared_ptr<Op>& op, const std::string& kid,
                                    Algorithm a, ByteView remote, ByteView aad,
                                    http::Deadline deadline, F&& next) {
  std::optional<Kid> k = parse_kid(kid, api_->vault());
  if (!k) return next(invalid_argument("key version " + quote(kid) + " does not parse"), SecretBytes());
  const bool gcm = a == Algorithm::a256gcm;
  std::string body;
  if (gcm) {
    if (remote.size() <= kGcmIv + kGcmTag) {
      return next(integrity_error("wrapped key too short"), SecretBytes());
    }
    body = operation_request(algorithm_name(a), remote.subspan(kGcmIv + kGcmTag), aad,
                             remote.first(kGcmIv), remote.subspan(kGcmIv, kGcmTag));
  } else {
    body = operation_request(algorithm_name(a), remote);
  }
  KvCall call{gcm ? "decrypt" : "unwrapkey", "POST", op_path(*k, a, false), std::move(body), true,
              true};
  api_->call(op, std::move(call), deadline,
             [kid, gcm, next = std::forward<F>(next)](Error e, std::string answer) mutable {
               if (!e.ok()) return next(std::move(e), SecretBytes());
               Result<OperationResult> r = parse_operation_result(answer);
               if (!r.ok()) return next(r.error().prefixed(gcm ? "decrypt" : "unwrapkey"), SecretBytes());
               if (r->kid != kid) {
                 return next(integrity_error("the vault answered for key " + quote(r->kid) +
                                             ", we asked " + kid),
                             SecretBytes());
               }
               if (r->value.size() != kKeySize) {
                 return next(integrity_error("the unwrapped key is not 32 bytes"), SecretBytes());
               }
               next(Error(), std::move(r->value));
             });
}

void AzureKvProvider::wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                                asio::any_completion_handler<WrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, WrapResult>>(executor_, options.lease,
                                                           std::move(handler));
  op->listen_for_cancellation();
  const std::optional<Current> now = current();
  if (!now) {
    asio::post(op->strand(), [op] {
      op->complete(unavailable("the key's current version is not resolved yet (the vault was "
                               "unreachable at start-up); a probe resolves it"),
                   WrapResult());
    });
    return;
  }
  const Algorithm a = now->algorithm;
  const std::string kid = now->kid;
  // Step 2 of share_binding.hpp now, while we hold the share (borrowed for
  // this call only); step 3 on the strand.
  auto key = std::make_shared<SecretBytes>(SecretBytes::random(kKeySize));
  Result<Bytes> sealed = seal_share(key->view(), a, context, share);
  Bytes aad = binding_aad(a, context);
  asio::post(op->strand(), [this, op, kid, key, a, sealed = std::move(sealed), aad = std::move(aad),
                            deadline = options.deadline]() mutable {
    if (!sealed.ok()) return op->complete(sealed.error(), WrapResult());
    remote_wrap(op, kid, a, *key, aad, deadline,
                [op, kid, key, a, sealed = std::move(sealed).value()](Error e, Bytes remote) mutable {
                  WrapResult result;
                  if (e.ok()) result = {join_wrapped(a, remote, sealed), kid};
                  op->complete(std::move(e), std::move(result));
                });
  });
}

void AzureKvProvider::unwrap_impl(const CallOptions& options, ByteView context,
                                  std::string_view key_version, ByteView wrapped,
                                  asio::any_completion_handler<UnwrapSignature> handler) {
  auto op = std::make_shared<Operation<Error, SecretBytes>>(executor_, options.lease,
                                                            std::move(handler));
  op->listen_for_cancellation();
  // Only versions of our own key go to the vault: the envelope is not
  // authenticated yet, and the vault would unwrap under any key our token
  // reaches (a confused deputy).
  Error early;
  Result<WrappedParts> parts = parse_wrapped(wrapped);
  if (!owns_key_version(key_version)) {
    early = invalid_argument("share names key " + quote(key_version) +
                             ", which is neither a version of the configured key nor in "
                             "previous_key_names");
  } else if (!parts.ok()) {
    early = parts.error();
  }
  // Copies: the arguments are borrowed for this call only.
  Bytes data(wrapped.begin(), wrapped.end());
  Bytes ctx(context.begin(), context.end());
  asio::post(op->strand(), [this, op, early, kid = std::string(key_version), data = std::move(data),
                            ctx = std::move(ctx), deadline = options.deadline]() mutable {
    if (!early.ok()) return op->complete(early, SecretBytes());
    auto held = std::make_shared<Bytes>(std::move(data));
    Result<WrappedParts> p = parse_wrapped(*held);
    const Algorithm a = p->algorithm;
    // Before the call: its last argument takes ctx away.
    const Bytes aad = binding_aad(a, ctx);
    remote_unwrap(op, kid, a, p->remote, aad, deadline,
                  [op, held, a, ctx = std::move(ctx)](Error e, SecretBytes key) {
                    if (!e.ok()) return op->complete(std::move(e), SecretBytes());
                    Result<WrappedParts> parts = parse_wrapped(*held);
                    Result<SecretBytes> share = open_share(key.view(), a, ctx, parts->sealed);
                    if (!share.ok()) return op->complete(share.error(), SecretBytes());
                    op->complete(Error(), std::move(share).value());
                  });
  });
}

void AzureKvProvider::probe_impl(const CallOptions& options,
                                 asio::any_completion_handler<ProbeSignature> handler) {
  auto op = std::make_shared<Operation<Error>>(executor_, options.lease, std::move(handler));
  op->listen_for_cancellation();
  const auto deadline = options.deadline;  // the health monitor's probe budget, for every step
  asio::post(op->strand(), [this, op, deadline] {
    KvCall get{"get key", "GET", "/keys/" + config_.key_name, "", false, false};
    api_->call(op, std::move(get), deadline, [this, op, deadline](Error e, std::string answer) {
      if (!e.ok()) return op->complete(e);
      // key_ops are checked once the algorithm is known, below.
      Result<KeyBundle> b = parse_key_bundle(answer, "", "");
      if (!b.ok()) return op->complete(b.error().prefixed("get key"));
      std::optional<Kid> k = parse_kid(b->kid, api_->vault());
      if (!k || k->name != config_.key_name) {
        return op->complete(integrity_error("get key: the vault answered with key id " +
                                            quote(b->kid) + ", not a version of " +
                                            config_.key_name));
      }
      Result<Algorithm> chosen = choose_algorithm(config_.configured_algorithm, b->kty);
      if (!chosen.ok()) return op->complete(chosen.error().prefixed("get key"));
      const Algorithm a = *chosen;
      if (!b->enabled) return op->complete(unavailable("get key: the key is disabled"));
      Result<KeyBundle> ops = parse_key_bundle(answer, wrap_operation(a), unwrap_operation(a));
      if (!ops.ok() || !ops->can_wrap || !ops->can_unwrap) {
        return op->complete(unavailable("get key: the key's key_ops lack " +
                                        std::string(wrap_operation(a)) + " or " +
                                        std::string(unwrap_operation(a))));
      }
      set_current(b->kid, a);
      auto zero = std::make_shared<SecretBytes>(kKeySize);
      std::fill(zero->data(), zero->data() + zero->size(), std::uint8_t{0});
      const Bytes aad = binding_aad(a, as_bytes(kProbeContext));
      const std::string kid = b->kid;
      remote_wrap(op, kid, a, *zero, aad, deadline,
                  [this, op, kid, a, aad, deadline, zero](Error e2, Bytes remote) {
                    if (!e2.ok()) return op->complete(e2);
                    remote_unwrap(op, kid, a, remote, aad, deadline,
                                  [op, zero](Error e3, SecretBytes back) {
                                    if (!e3.ok()) return op->complete(e3);
                                    if (!back.equals(zero->view())) {
                                      return op->complete(
                                          integrity_error("probe: unwrap returned another key"));
                                    }
                                    op->complete(Error());
                                  });
                  });
    });
  });
}

}  // namespace trousseau::providers::azurekv
