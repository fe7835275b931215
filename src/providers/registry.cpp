#include "providers/registry.hpp"

#include <algorithm>
#include <cassert>

namespace trousseau::providers {

KeyStanding standing_among(std::string_view key, std::string_view current,
                           const std::vector<std::string>& previous) {
  if (key == current) return KeyStanding::current;
  return std::find(previous.begin(), previous.end(), key) != previous.end() ? KeyStanding::previous
                                                                            : KeyStanding::foreign;
}

Registry& Registry::instance() {
  static Registry registry;  // constructed on first use, before any Registrar runs
  return registry;
}

void Registry::add(std::unique_ptr<ProviderFactory> factory) {
  std::string type(factory->type());
  [[maybe_unused]] bool inserted = factories_.emplace(type, std::move(factory)).second;
  assert(inserted && "provider type registered twice");
}

const ProviderFactory* Registry::find(std::string_view type) const {
  auto it = factories_.find(type);
  return it == factories_.end() ? nullptr : it->second.get();
}

std::string Registry::types() const {
  std::string out;
  for (const auto& [name, f] : factories_) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace trousseau::providers
