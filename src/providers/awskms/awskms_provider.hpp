// A key in AWS KMS: shares are wrapped with Encrypt and unwrapped with
// Decrypt over the KMS JSON API, bound to an EncryptionContext
//   {"trousseau.io/share": base64(context), "trousseau.io/cluster": cluster_name}
// so that a wrapped share only opens for the slot and cluster it was made for.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "providers/awskms/kms_api.hpp"
#include "providers/legacy.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::awskms {

/// Every operation runs on its own strand over the shared executor and
/// completes on the handler's associated executor, never inline. Every
/// credential fetch, STS call and KMS call plans against `options.deadline`;
/// the provider has no timeout of its own. A cancellation closes the HTTP
/// connection in flight (or abandons a wait for STS credentials), never
/// starts a request that has not been sent, and completes with
/// Code::cancelled. `options.lease` is held until the last exchange has
/// returned.
///
/// Key ownership (the confused-deputy rule of provider.hpp): the provider
/// only ever names its configured key and the operator's list of previous
/// keys to KMS, and it accepts an answer only if KMS says it used the key we
/// named.
///
/// It also opens the original Trousseau's awskms ciphertexts
/// (providers/legacy.hpp): a Decrypt naming the configured key, with the
/// operator's `legacy_encryption_context`.
class AwsKmsProvider final : public Provider, public LegacyDecrypter {
 public:
  struct Config {
    std::string key_arn;       ///< resolved at create time, never an alias
    std::string identity;      ///< initial key identity (see key_metadata.hpp)
    std::string cluster_name;  ///< part of the EncryptionContext
    /// `previous_key_ids`: keys whose shares Decrypt still opens (an alias
    /// was re-pointed, or key_id changed). Never used to wrap.
    std::vector<std::string> previous_key_arns;
    /// The original Trousseau's EncryptionContext as JSON, or "" for none.
    std::string legacy_context_json;
  };

  AwsKmsProvider(std::string name, asio::any_io_executor executor, std::unique_ptr<KmsApi> api,
                 Config config);

  /// The key ARN and its rotation state, refreshed by every probe.
  std::string key_identity() const override;
  /// True for an identity (key_metadata.hpp) of the configured key or of
  /// one of `previous_key_arns`, whatever its material or rotation suffix.
  bool owns_key_version(std::string_view key_version) const override;

 private:
  void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<WrapSignature> handler) override;
  void unwrap_impl(const CallOptions& options, ByteView context, std::string_view key_version, ByteView wrapped,
                   asio::any_completion_handler<UnwrapSignature> handler) override;
  /// DescribeKey (the key must be Enabled; refreshes the identity), then an
  /// Encrypt and a Decrypt of a fixed zero block.
  void probe_impl(const CallOptions& options, asio::any_completion_handler<ProbeSignature> handler) override;
  void legacy_decrypt_impl(const CallOptions& options, ByteView ciphertext,
                           asio::any_completion_handler<UnwrapSignature> handler) override;

  std::string encryption_context(ByteView context) const;
  void set_identity(const std::string& material, const std::string& rotation);

  asio::any_io_executor executor_;
  std::unique_ptr<KmsApi> api_;
  const Config config_;
  mutable std::mutex mutex_;
  std::string identity_;
  std::string rotation_;  ///< last known; kept when ListKeyRotations fails
};

}  // namespace trousseau::providers::awskms
