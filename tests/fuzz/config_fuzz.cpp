// The YAML configuration (src/config/config.cpp over src/settings/): what
// `serve` and `check-config` read at start-up and on reload. Properties:
// a configuration comes back exactly when no problem was recorded, and a
// refusal names at least one; the same text always gives the same answer.
// Exceptions are the start-up error path, so yaml-cpp's declared type
// (YAML::Exception) is allowed to escape; nothing else is.
#include <yaml-cpp/exceptions.h>

#include <string>

#include "check.hpp"
#include "config/config.hpp"

namespace config = trousseau::config;

namespace {

std::optional<std::vector<std::string>> load(const std::string& text) {
  trousseau::settings::Diagnostics diag;
  auto cfg = config::load_string(text, diag);
  FUZZ_CHECK(cfg.has_value() == diag.ok());
  if (cfg) {
    FUZZ_CHECK(!cfg->providers.empty());
    return std::nullopt;
  }
  FUZZ_CHECK(!diag.errors().empty());
  return diag.errors();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto first = load(text);
    FUZZ_CHECK(load(text) == first);
  } catch (const YAML::Exception&) {
  }
  return 0;
}
