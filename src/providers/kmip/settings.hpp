// The `kmip` provider's configuration keys.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "providers/registry.hpp"
#include "settings/node.hpp"

namespace trousseau::providers::kmip {

/// How a share is encrypted by the server (docs/providers/kmip.md).
enum class Mode {
  gcm,  ///< AES-GCM, the share context as additional data, the server's tag kept
  cbc,  ///< AES-CBC with PKCS#5 padding over a digest of context and share, and the share
};

struct Settings final : ProviderSettings {
  std::string host;
  std::uint16_t port = 5696;
  /// Verified in the server's certificate (and sent as SNI) instead of
  /// `host`, for a server reached by an address its certificate does not name.
  std::string server_name;
  std::string ca_file;  ///< empty: the system store
  std::string client_certificate_file;
  std::string client_key_file;
  /// Exactly one of the two: the key's Unique Identifier, or its Name
  /// (resolved with Locate at start-up and by every probe).
  std::string key_uid;
  std::string key_name;
  /// Unique Identifiers of earlier keys whose shares unwrap still opens
  /// (after a re-key). Never used to wrap.
  std::vector<std::string> previous_key_uids;
  Mode mode = Mode::gcm;
  std::size_t tag_length = 16;  ///< GCM only
  /// In order of preference, as "major.minor"; Discover Versions picks the
  /// first the server supports.
  std::vector<std::string> protocol_versions{"2.0", "1.4", "1.3", "1.2"};
  std::size_t max_idle_connections = 4;
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file or network.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

/// A Unique Identifier or Name we accept: 1-255 printable ASCII characters
/// (it goes into key_version and logs).
bool valid_identifier(std::string_view id);

}  // namespace trousseau::providers::kmip
