// A symmetric key in Google Cloud KMS. Each share is encrypted by the
// service itself, bound to its context:
//
//   wrapped = 0x01 (format) || Cloud KMS ciphertext of the share, under
//   additionalAuthenticatedData = "trousseau.io/gcpkms/v1" 0x00 || context
//   (context: envelope::share_context, i.e. the envelope's nonce, its
//   threshold and the share's x).
//
// A share moved to another slot or envelope, or any flipped byte, fails
// Cloud KMS's authentication (400 INVALID_ARGUMENT) and so Code::integrity.
// Every request and answer is checked with CRC32C (kms_messages.hpp).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/gcpkms/kms_api.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::gcpkms {

/// The cryptoKey of a version name "<cryptoKey>/cryptoKeyVersions/<n>" (n:
/// decimal digits, no leading zero), or nullopt.
std::optional<std::string> crypto_key_of_version(std::string_view version);

/// The additional data a share is encrypted under.
Bytes share_aad(ByteView context);

/// Every operation runs on its own strand over the shared executor and
/// completes on the handler's associated executor, never inline. Every
/// token fetch and Cloud KMS call plans against `options.deadline`; the
/// provider has no timeout of its own. A cancellation closes the HTTP
/// connection in flight (or abandons a wait for a token), never starts a
/// request that has not been sent, and completes with Code::cancelled.
/// `options.lease` is held until the last exchange has returned.
///
/// An answer that fails its CRC32C check is discarded and the request made
/// again, up to kIntegrityAttempts in all (Google's advice); after that the
/// operation fails with Code::unavailable. A corrupted plaintext is never
/// handed on.
///
/// Key ownership (provider.hpp rule 6): a share names the cryptoKeyVersion
/// that encrypted it, and unwrap sends it to Cloud KMS only if that version
/// belongs to the configured cryptoKey or one of `previous_keys`.
class GcpKmsProvider final : public Provider {
 public:
  static constexpr int kIntegrityAttempts = 3;

  struct Config {
    std::string key_name;  ///< the cryptoKey
    std::vector<std::string> previous_keys;
    /// The primary version, resolved at start-up; empty when Cloud KMS was
    /// unreachable then (the first successful probe resolves it).
    std::string version;
  };

  GcpKmsProvider(std::string name, asio::any_io_executor executor, std::unique_ptr<KmsApi> api,
                 Config config);

  /// The primary cryptoKeyVersion, "projects/…/cryptoKeys/k/cryptoKeyVersions/3",
  /// refreshed by every probe, so a rotation changes it (and the plugin's
  /// key_id). Before the key is first resolved: "<cryptoKey> unresolved".
  std::string key_identity() const override;
  bool owns_key_version(std::string_view key_version) const override;

 private:
  void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<WrapSignature> handler) override;
  void unwrap_impl(const CallOptions& options, ByteView context, std::string_view key_version,
                   ByteView wrapped, asio::any_completion_handler<UnwrapSignature> handler) override;
  /// Gets the key (purpose ENCRYPT_DECRYPT, an enabled primary version;
  /// refreshes the version), then encrypts and decrypts a probe value.
  void probe_impl(const CallOptions& options,
                  asio::any_completion_handler<ProbeSignature> handler) override;

  /// Encrypts `plain` under exactly `version`; `next(Error, ciphertext)`.
  template <typename Op, typename F>
  void encrypt(const std::shared_ptr<Op>& op, const std::string& version,
               std::shared_ptr<const SecretBytes> plain, std::shared_ptr<const Bytes> aad,
               http::Deadline deadline, int attempt, F&& next);
  /// Decrypts `ciphertext` with `crypto_key`; `next(Error, SecretBytes)`.
  template <typename Op, typename F>
  void decrypt(const std::shared_ptr<Op>& op, const std::string& crypto_key,
               std::shared_ptr<const Bytes> ciphertext, std::shared_ptr<const Bytes> aad,
               http::Deadline deadline, int attempt, F&& next);

  std::string version() const;
  void set_version(const std::string& version);

  asio::any_io_executor executor_;
  std::unique_ptr<KmsApi> api_;
  const Config config_;
  mutable std::mutex mutex_;
  std::string version_;  ///< under mutex_
};

}  // namespace trousseau::providers::gcpkms
