// A key in Azure Key Vault or Managed HSM. Each share is sealed locally
// under a fresh key K that the vault wraps (share_binding.hpp), so that the
// share is bound to its context although RSA-OAEP and AES-KW have no
// additional data.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "providers/azurekv/kv_api.hpp"
#include "providers/azurekv/share_binding.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::azurekv {

/// A versioned key id, split: "https://v.vault.azure.net/keys/<name>/<version>".
struct Kid {
  std::string origin;  ///< "https://v.vault.azure.net", as the vault writes it
  std::string name;
  std::string version;
};
/// Splits `kid` if it is a versioned key id of `vault` (same scheme, host
/// in any case, port; a valid key name; a version of 32 lower-case hex
/// digits, as Key Vault makes them); nullopt otherwise.
std::optional<Kid> parse_kid(std::string_view kid, const http::Url& vault);

/// Every operation runs on its own strand over the shared executor and
/// completes on the handler's associated executor, never inline. Every
/// token fetch and vault call plans against `options.deadline`; the
/// provider has no timeout of its own. A cancellation closes the HTTP
/// connection in flight (or abandons a wait for a token), never starts a
/// request that has not been sent, and completes with Code::cancelled.
/// `options.lease` is held until the last exchange has returned.
///
/// Key ownership (provider.hpp rule 6): a share names the exact key version
/// (kid) that wrapped it, and unwrap sends it to that version only if the
/// kid is in the configured vault under the configured key name or one of
/// `previous_key_names`. The vault's answer must name the same kid.
class AzureKvProvider final : public Provider {
 public:
  struct Config {
    std::string key_name;
    std::vector<std::string> previous_key_names;
    std::string configured_algorithm;    ///< the `algorithm` setting; empty: from the key type
    std::optional<Algorithm> algorithm;  ///< resolved with the key
    /// The current version, resolved at start-up; empty when the vault was
    /// unreachable then (the first successful probe resolves it).
    std::string kid;
  };

  AzureKvProvider(std::string name, asio::any_io_executor executor,
                  std::unique_ptr<KeyVaultApi> api, Config config);

  /// "<kid> <algorithm>": the current version, refreshed by every probe, so
  /// a rotation in the vault changes it (and the plugin's key_id). Before
  /// the key is first resolved: "<vault>/keys/<name> unresolved".
  std::string key_identity() const override;
  bool owns_key_version(std::string_view key_version) const override;
  /// RSA-OAEP-256 wraps with the public key: anyone can (share_binding.hpp).
  /// True until the key is resolved.
  bool anyone_can_wrap() const override;

 private:
  void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<WrapSignature> handler) override;
  void unwrap_impl(const CallOptions& options, ByteView context, std::string_view key_version,
                   ByteView wrapped, asio::any_completion_handler<UnwrapSignature> handler) override;
  /// GET the key (enabled, operations allowed; refreshes the version), then
  /// a wrap and an unwrap of a zero key through the vault.
  void probe_impl(const CallOptions& options,
                  asio::any_completion_handler<ProbeSignature> handler) override;

  /// The vault half of wrapping `key` under `kid` (its answer must name
  /// `kid`): the remote bytes of share_binding.hpp.
  template <typename Op, typename F>
  void remote_wrap(const std::shared_ptr<Op>& op, const std::string& kid, Algorithm a,
                   const SecretBytes& key, ByteView aad, http::Deadline deadline, F&& next);
  template <typename Op, typename F>
  void remote_unwrap(const std::shared_ptr<Op>& op, const std::string& kid, Algorithm a,
                     ByteView remote, ByteView aad, http::Deadline deadline, F&& next);
  struct Current {
    std::string kid;
    Algorithm algorithm;
  };
  /// The version and algorithm a wrap uses now; nullopt until resolved.
  std::optional<Current> current() const;
  void set_current(const std::string& kid, Algorithm algorithm);

  asio::any_io_executor executor_;
  std::unique_ptr<KeyVaultApi> api_;
  const Config config_;
  mutable std::mutex mutex_;
  std::string kid_;                     ///< under mutex_
  std::optional<Algorithm> algorithm_;  ///< under mutex_
};

}  // namespace trousseau::providers::azurekv
