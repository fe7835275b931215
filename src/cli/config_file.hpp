// Loading the configuration file for `serve` and `check-config`.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace trousseau::cli {

/// Loads and validates `path`, printing every diagnostic on standard error
/// as "<path>: <field path>: <problem>". nullopt when there was any.
std::optional<config::Config> load_config(const std::string& path);

}  // namespace trousseau::cli
