// The `sequential` provider's configuration keys:
//
//   members:            # tried in this order
//     - {name: kms-a, delay: {distribution: constant, value: 5ms}}
//     - {name: kms-b, hang: true}   # each: `name` plus an injected's keys
//   member_timeout: 1s  # move on to the next member after this long
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/providers/injected/settings.hpp"
#include "providers/registry.hpp"
#include "settings/node.hpp"

namespace trousseau::bench::sequential {

struct Member {
  std::string name;  ///< its name in errors and in its record lines
  std::unique_ptr<const injected::Settings> settings;
};

struct Settings final : providers::ProviderSettings {
  std::vector<Member> members;
  std::chrono::milliseconds member_timeout{1000};
};

/// Reads and validates the keys of one provider mapping; problems go to the
/// node's diagnostics with their field paths. Touches no file.
std::unique_ptr<Settings> parse_settings(settings::Node& node);

}  // namespace trousseau::bench::sequential
