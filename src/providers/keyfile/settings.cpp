#include "providers/keyfile/settings.hpp"

namespace trousseau::providers::keyfile {

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  s->path = node.string("path");
  if (!s->path.empty() && s->path.front() != '/') node.error("path", "must be an absolute path");
  s->create = node.boolean("create_if_missing", true);
  return s;
}

}  // namespace trousseau::providers::keyfile
