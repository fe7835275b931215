// The `gcpkms` provider's configuration keys.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "providers/registry.hpp"
#include "settings/node.hpp"

namespace trousseau::providers::gcpkms {

/// How the provider obtains Google access tokens (google_auth.hpp).
enum class AuthMethod {
  service_account_key,           ///< a service-account key file: an RS256 JWT grant
  workload_identity_federation,  ///< an external-account file: a subject token exchanged at STS
  metadata_server,               ///< the GCE/GKE metadata server
};

struct AuthSettings {
  AuthMethod method = AuthMethod::metadata_server;
  /// The key or external-account JSON; empty: GOOGLE_APPLICATION_CREDENTIALS
  /// at create time.
  std::string credentials_file;
  std::string metadata_address;  ///< "http://169.254.169.254" unless set
};

inline constexpr std::string_view kDefaultEndpoint = "https://cloudkms.googleapis.com";

struct Settings final : ProviderSettings {
  /// "projects/P/locations/L/keyRings/R/cryptoKeys/K": a symmetric
  /// ENCRYPT_DECRYPT key. Wraps use its primary version.
  std::string key_name;
  /// Other cryptoKeys whose shares unwrap still opens (the key was
  /// replaced by another one). Never used to wrap.
  std::vector<std::string> previous_keys;
  /// "https://cloudkms.googleapis.com", a regional endpoint or a Private
  /// Service Connect name; no trailing slash, no path.
  std::string endpoint;
  std::string ca_file;
  AuthSettings auth;
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file or network.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

/// projects/*/locations/*/keyRings/*/cryptoKeys/*, each id as Cloud KMS
/// allows it: letters, digits, '-' and '_', at most 63 characters (a
/// domain-scoped project id may also have '.' and ':').
bool valid_crypto_key_name(std::string_view name);

}  // namespace trousseau::providers::gcpkms
