// The `awskms` provider's configuration keys.
#pragma once

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
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file or network.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

}  // namespace trousseau::providers::awskms
