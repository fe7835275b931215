// Trousseau as an age recipient: the file key goes through a running
// plugin's socket (KMS v2 Encrypt and Decrypt), so opening a file takes k
// of the n KMSes, under the policy and trust rules of Secrets.
//
// Recipients (`age1trousseau1…`) and identities (`AGE-PLUGIN-TROUSSEAU-1…`)
// are Bech32 of the socket's absolute path: they name where to ask, and
// hold nothing secret. docs/integrations/age.md has the format.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "age/plugin.hpp"

namespace trousseau::age {

inline constexpr std::string_view kRecipientHrp = "age1trousseau";
inline constexpr std::string_view kIdentityHrp = "age-plugin-trousseau-";
inline constexpr std::string_view kStanzaType = "trousseau";
inline constexpr std::string_view kStanzaVersion = "v1";

/// What Encrypt is given: this label, then the 16-byte file key. The label
/// keeps the two uses of the socket apart: no envelope made for another
/// purpose (a Secret's DEK seed, `trousseau encrypt`) opens as a file key.
inline constexpr std::string_view kFileKeyLabel = "trousseau.io/age-file-key/v1\n";
inline constexpr std::size_t kFileKeySize = 16;

/// Refuses a relative path: age runs the plugin from any directory.
Result<std::string> recipient_for(const std::string& socket_path);
Result<std::string> identity_for(const std::string& socket_path);
/// The socket a recipient or identity names.
Result<std::string> socket_of_recipient(std::string_view recipient);
Result<std::string> socket_of_identity(std::string_view identity);

class TrousseauKeys final : public Keys {
 public:
  /// Each call's deadline; a socket nobody serves fails at once.
  explicit TrousseauKeys(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  Result<WrappedKey> wrap(const std::string& recipient_or_identity, bool identity,
                          const SecretBytes& file_key) override;
  bool understands(const std::string& type) const override { return type == kStanzaType; }
  Result<SecretBytes> unwrap(const std::string& identity, const Stanza& stanza) override;

 private:
  std::chrono::milliseconds timeout_;
};

}  // namespace trousseau::age
