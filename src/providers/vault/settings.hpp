// The `vault` provider's configuration keys (docs/providers/vault.md).
#pragma once

#include <memory>
#include <string>

#include "settings/node.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::vault {

/// How the provider gets its Vault token (the `auth:` mapping).
struct AuthSettings {
  /// token | approle | kubernetes | jwt | cert
  std::string method;
  /// Where the auth method is mounted, without "auth/": defaults to the
  /// method's name. Unused by `token`.
  std::string mount;
  std::string token_file;      ///< token: watched, re-read when it changes
  std::string role_id;         ///< approle (an identifier, not a secret)
  std::string secret_id_file;  ///< approle: read at each login
  std::string role;            ///< kubernetes, jwt (required); cert (optional: the cert role name)
  std::string jwt_file;        ///< kubernetes (default: the service account token), jwt
};

struct Settings final : ProviderSettings {
  std::string address;     ///< "https://vault.example:8200", no path
  std::string vault_namespace;  ///< Vault Enterprise namespace; empty: none
  std::string mount = "transit";
  std::string key;
  std::string ca_file;
  std::string client_cert;  ///< TLS client certificate (PEM), for cert auth or mTLS listeners
  std::string client_key;
  std::string server_name;  ///< verified instead of the address's host
  AuthSettings auth;
};

inline constexpr const char* kServiceAccountTokenFile =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file or network.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

/// A path of Vault segments ("transit", "team-a/transit"): letters, digits,
/// '_', '-', '.', separated by single '/', no "." or ".." segment. What
/// we accept in a URL path without escaping.
bool valid_vault_path(const std::string& path);

}  // namespace trousseau::providers::vault
