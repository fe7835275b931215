// A key in Vault's Transit secrets engine: shares are wrapped with
// transit/encrypt and unwrapped with transit/decrypt, bound to their share
// context (as `context` for a derived key, as `associated_data` for an
// AEAD key that is not derived), under a token that session.hpp keeps alive.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "providers/legacy.hpp"
#include "providers/operation.hpp"
#include "providers/provider.hpp"
#include "providers/vault/session.hpp"
#include "providers/vault/vault_api.hpp"

namespace trousseau::providers::vault {

/// N of "<key_path>@v<N>" (N: decimal, no leading zero), or nullopt when
/// `key_version` is not a version of the key at `key_path`.
std::optional<unsigned> version_in(std::string_view key_path, std::string_view key_version);

/// Every operation runs on its own strand over the shared executor and
/// completes on the handler's associated executor, never inline. Every
/// login, key read and transit call plans against `options.deadline`; the
/// provider has no timeout of its own on the request path. A cancellation
/// closes the HTTP connection in flight (or abandons a wait for a login),
/// never starts a request that has not been sent, and completes with
/// Code::cancelled. `options.lease` is held until the last exchange has
/// returned.
///
/// Key ownership: the provider only ever names its configured mount and key
/// to Vault. A share's key_version is "<namespace/><mount>/keys/<key>@v<N>",
/// the Vault key version that wrapped it; any N of the configured key is
/// ours, nothing else is.
class VaultProvider final : public Provider, public LegacyDecrypter {
 public:
  struct Config {
    std::string origin;    ///< the address, "https://vault:8200"
    std::string key_path;  ///< "<namespace/><mount>/keys/<key>"
    std::string mount;
    std::string key;
    std::optional<KeyInfo> key_info;  ///< read at start, when Vault answered
  };

  VaultProvider(std::string name, asio::any_io_executor executor,
                std::shared_ptr<VaultClient> client, std::shared_ptr<Session> session,
                Config config);
  ~VaultProvider() override;

  /// "<origin>/v1/<key_path>@v<latest_version>", refreshed by every probe
  /// and by a wrap that Vault answers with a newer version: a rotation in
  /// Vault changes it. "@v?" until the key has been read once.
  std::string key_identity() const override;
  /// True for "<key_path>@v<N>", any N >= 1.
  bool owns_key_version(std::string_view key_version) const override;

  /// The token's state, for tests and status.
  Session::Stats session_stats() const { return session_->stats(); }

 private:
  using Done = asio::any_completion_handler<void(Error, std::string)>;
  using KeyDone = std::function<void(Error, KeyInfo)>;
  struct Call {
    std::string method;
    std::string path;  ///< after /v1/
    std::string body;
    bool sensitive = false;
    std::string what;  ///< "encrypt", for messages
  };

  void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<WrapSignature> handler) override;
  void unwrap_impl(const CallOptions& options, ByteView context, std::string_view key_version,
                   ByteView wrapped, asio::any_completion_handler<UnwrapSignature> handler) override;
  /// Reads the key (refreshing the identity), then encrypts and decrypts a
  /// zero block: the token, the policy and the key all work.
  void probe_impl(const CallOptions& options,
                  asio::any_completion_handler<ProbeSignature> handler) override;
  /// `ciphertext` is Trousseau v1's `vault:vN:<base64>` text.
  void legacy_decrypt_impl(const CallOptions& options, ByteView ciphertext,
                           asio::any_completion_handler<UnwrapSignature> handler) override;

  /// One Vault call with the session's token, on op's strand; a 403 lets
  /// the session log in again (or re-read its token file) and the call is
  /// retried once. `done` runs on the strand unless op has completed.
  template <typename Op, typename Next>
  void call(const std::shared_ptr<Op>& op, Call c, http::Deadline deadline, Next&& next) {
    start_call(op, std::move(c), deadline, false,
               [op, next = std::forward<Next>(next)](Error e, std::string b) mutable {
                 if (!op->done()) next(std::move(e), std::move(b));
               });
  }
  void start_call(std::shared_ptr<OperationState> op, Call c, http::Deadline deadline,
                  bool retried, Done done);
  void send(std::shared_ptr<OperationState> op, Call c, http::Deadline deadline, bool retried,
            Token token, Done done);
  /// The key's metadata: cached, or read now (`fresh`: always read).
  template <typename Op>
  void with_key(const std::shared_ptr<Op>& op, http::Deadline deadline, bool fresh, KeyDone next);
  void set_key_info(const KeyInfo& info);
  std::optional<KeyInfo> key_info() const;
  std::string version_string(unsigned version) const;
  /// N of "<key_path>@v<N>", or nullopt when it is not ours.
  std::optional<unsigned> version_of(std::string_view key_version) const;

  asio::any_io_executor executor_;
  std::shared_ptr<VaultClient> client_;
  std::shared_ptr<Session> session_;
  const Config config_;
  mutable std::mutex mutex_;
  std::optional<KeyInfo> key_;
  std::string identity_;
};

}  // namespace trousseau::providers::vault
