// One provider entry read as the configuration loader reads it.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "settings/node.hpp"

namespace trousseau::testkit {

/// The node of `providers[0]` in a document whose only entry is `flow`, a
/// YAML flow mapping such as "{name: a, type: keyfile, path: /k}". Throws
/// (and so fails the test) when the text is not such a document.
inline settings::Node provider_entry(const std::string& flow, settings::Diagnostics& diag) {
  std::optional<settings::Node> root = settings::Node::parse_yaml("providers: [" + flow + "]", diag);
  std::vector<settings::Node> entries = root.value().sequence("providers");
  return std::move(entries.at(0));
}

}  // namespace trousseau::testkit
