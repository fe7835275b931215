// The `azurekv` provider's configuration keys.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "providers/registry.hpp"
#include "settings/node.hpp"

namespace trousseau::providers::azurekv {

/// How the provider obtains Microsoft Entra access tokens (entra.hpp).
enum class AuthMethod {
  client_secret,       ///< client credentials, the secret read from a file
  client_certificate,  ///< client credentials, a JWT assertion signed with the certificate's key
  workload_identity,   ///< a federated token file (AKS workload identity)
  managed_identity,    ///< the instance metadata service (IMDS)
};

struct AuthSettings {
  AuthMethod method = AuthMethod::managed_identity;
  std::string tenant_id;  ///< empty for workload identity: AZURE_TENANT_ID at create time
  std::string client_id;  ///< managed identity: a user-assigned identity, else system-assigned
  std::string client_secret_file;
  std::string client_certificate_file;  ///< PEM: the certificate and its private key
  std::string federated_token_file;     ///< empty: AZURE_FEDERATED_TOKEN_FILE at create time
  std::string authority_host;           ///< empty: the vault's cloud (or AZURE_AUTHORITY_HOST)
  std::string imds_endpoint;            ///< "http://169.254.169.254" unless set (tests)
};

struct Settings final : ProviderSettings {
  std::string vault_url;  ///< "https://<name>.vault.azure.net", no trailing slash
  std::string key_name;
  /// "RSA-OAEP-256", "A256KW", "A256GCM"; empty: chosen from the key type
  /// at start-up (RSA-OAEP-256 for RSA keys, A256KW for oct keys).
  std::string algorithm;
  /// Names of keys in the same vault whose shares unwrap still opens (the
  /// key was renamed). Never used to wrap.
  std::vector<std::string> previous_key_names;
  /// The token scope, e.g. "https://vault.azure.net/.default"; derived
  /// from the vault's host name when empty.
  std::string scope;
  std::string ca_file;
  AuthSettings auth;
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file or network.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

/// The Key Vault / Managed HSM clouds we know by host suffix.
struct Cloud {
  std::string scope;           ///< "https://vault.azure.net/.default"
  std::string authority_host;  ///< "https://login.microsoftonline.com"
};

/// The cloud of a vault host name ("myvault.vault.azure.net"), or an empty
/// Cloud when the suffix is not one we know.
Cloud cloud_of_host(std::string_view host);

/// A Key Vault key name: 1-127 characters, letters, digits and '-'.
bool valid_key_name(std::string_view name);

}  // namespace trousseau::providers::azurekv
