// The `keyfile` provider's configuration keys.
#pragma once

#include <memory>
#include <string>

#include "settings/node.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::keyfile {

struct Settings final : ProviderSettings {
  std::string path;    ///< absolute path of the key file
  bool create = true;  ///< create_if_missing: `serve` may write a fresh key there
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

}  // namespace trousseau::providers::keyfile
