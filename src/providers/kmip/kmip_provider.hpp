// A symmetric key in a KMIP server (an enterprise key manager), used
// through Encrypt and Decrypt. The share context is bound by the mode's
// additional data (GCM) or by a digest inside the encrypted data (CBC):
// share_format.hpp.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "providers/kmip/client.hpp"
#include "providers/kmip/settings.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::kmip {

/// The key the provider was configured with: a Unique Identifier, or a
/// Name that Locate resolves.
struct KeyRef {
  std::string uid;
  std::string name;
  std::string describe() const { return uid.empty() ? "name " + name : "uid " + uid; }
};

/// Locates `key` by name (when configured by name: exactly one object must
/// carry it) and reads its attributes; checks that it is an AES symmetric
/// key whose usage mask allows Encrypt and Decrypt. Runs on op's strand;
/// `next` is called there once. The key's state is reported, not judged.
void resolve_key(Client& client, const std::shared_ptr<OperationState>& op, const KeyRef& key,
                 Clock::time_point deadline, std::function<void(Error, KeyAttributes)> next);

/// "Active", "Deactivated", …; "unknown" when the server did not say.
std::string_view state_name(std::optional<State> state);

/// Failed_precondition unless `a` is an AES symmetric key whose usage mask
/// (when the server gives one) allows Encrypt and Decrypt.
Error check_usable(const KeyAttributes& a);

/// "sha256:<16 hex digits>" over the attributes that identify a key and do
/// not change while it is used (not its state): a key re-created under the
/// same uid on a fresh server has another identity.
std::string attribute_digest(const KeyAttributes& attributes);

/// Every operation runs on its own strand over the shared executor and
/// completes on the handler's associated executor, never inline. Calls plan
/// against `options.deadline`; a cancellation closes the connection in
/// flight and completes with Code::cancelled. `options.lease` is held until
/// the last exchange has returned.
///
/// Key ownership (provider.hpp rule 6): a share names the Unique Identifier
/// of the key that wrapped it. unwrap sends it only for the key resolved
/// now, one resolved earlier in this process (the name moved to a new key),
/// or one of `previous_key_uids`.
///
/// Lifecycle: wrap refuses (failed_precondition, without I/O) while the
/// last resolution saw the key in a state other than Active; unwrap asks
/// the server whatever the state, since KMIP lets a Deactivated key still
/// decrypt (whether it does is the server's policy).
class KmipProvider final : public Provider {
 public:
  struct Config {
    KeyRef key;
    std::vector<std::string> previous_key_uids;
    Mode mode = Mode::gcm;
    std::size_t tag_length = 16;
    /// Resolved at start-up; nullopt when the server was unreachable then
    /// (the first successful probe resolves it).
    std::optional<KeyAttributes> attributes;
  };

  KmipProvider(std::string name, asio::any_io_executor executor, std::shared_ptr<Client> client,
               Config config);

  /// "kmip://<host:port>/<uid> <attribute digest> aes-gcm|aes-cbc",
  /// refreshed by every probe; "kmip://<host:port>/<key ref> unresolved"
  /// before the key is first resolved.
  std::string key_identity() const override;
  bool owns_key_version(std::string_view key_version) const override;

  const Client& client() const { return *client_; }

 private:
  void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<WrapSignature> handler) override;
  void unwrap_impl(const CallOptions& options, ByteView context, std::string_view key_version,
                   ByteView wrapped, asio::any_completion_handler<UnwrapSignature> handler) override;
  /// Resolves the key (refreshing its identity and state), then, if it is
  /// Active, an Encrypt and a Decrypt of a probe value.
  void probe_impl(const CallOptions& options,
                  asio::any_completion_handler<ProbeSignature> handler) override;

  /// The server half of a wrap under `uid`: Encrypt, and the answer checked.
  void encrypt(const std::shared_ptr<OperationState>& op, const std::string& uid, ByteView context,
               ByteView share, Clock::time_point deadline,
               std::function<void(Error, Bytes)> next);
  void decrypt(const std::shared_ptr<OperationState>& op, const std::string& uid, ByteView context,
               ByteView wrapped, Clock::time_point deadline,
               std::function<void(Error, SecretBytes)> next);
  void set_attributes(const KeyAttributes& attributes);
  std::optional<KeyAttributes> attributes() const;

  asio::any_io_executor executor_;
  std::shared_ptr<Client> client_;
  const Config config_;
  mutable std::mutex mutex_;
  std::optional<KeyAttributes> attributes_;  ///< under mutex_
  std::set<std::string, std::less<>> resolved_uids_;  ///< under mutex_
};

}  // namespace trousseau::providers::kmip
