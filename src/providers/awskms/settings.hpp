// The `awskms` provider's configuration keys.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "settings/node.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::awskms {

struct Settings final : ProviderSettings {
  std::string region;
  std::string key_id;
  std::string endpoint;
  std::string cluster_name;
  std::string profile;
  std::string ca_file;
  std::string sts_endpoint;
  std::vector<std::string> previous_key_ids;  ///< full key ARNs
  /// The EncryptionContext the original Trousseau's awskms provider was
  /// configured with, for its ciphertexts (docs/migration.md). Empty: none.
  std::map<std::string, std::string> legacy_encryption_context;
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file or network.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

}  // namespace trousseau::providers::awskms
