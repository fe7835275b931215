// What a provider factory's parse() says about one entry, for the settings
// tests of each provider folder.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "providers/registry.hpp"
#include "support/provider_entry.hpp"

namespace trousseau::testkit {

/// The diagnostics of parsing `{<settings>}` (the provider's own keys, as
/// a YAML flow mapping without braces) with the factory of `type`, keys it
/// did not read reported as unknown, as the configuration loader does.
inline std::vector<std::string> settings_errors(const std::string& type, const std::string& settings) {
  ::trousseau::settings::Diagnostics diag;
  auto node = provider_entry("{" + settings + "}", diag);
  const providers::ProviderFactory* f = providers::Registry::instance().find(type);
  EXPECT_NE(f, nullptr) << "no provider type " << type;
  if (f != nullptr) (void)f->parse(node);
  node.reject_unknown_keys();
  return diag.errors();
}

/// Whether one of `errors` contains `needle`.
inline bool mentions(const std::vector<std::string>& errors, const std::string& needle) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

}  // namespace trousseau::testkit
