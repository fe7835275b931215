#include "settings/node.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <map>
#include <set>

namespace trousseau::settings {

void Diagnostics::error(const std::string& path, const std::string& message) {
  errors_.push_back(path.empty() ? message : path + ": " + message);
}

struct Node::Impl {
  YAML::Node node;
  std::string path;
  Diagnostics* diag;
  std::set<std::string> consumed;

  Impl(YAML::Node n, std::string p, Diagnostics& d) : node(std::move(n)), path(std::move(p)), diag(&d) {
    if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
      diag->error(path, "must be a mapping");
      node = YAML::Node(YAML::NodeType::Map);
    }
  }
  YAML::Node child(const std::string& key) const {
    return node.IsMap() ? node[key] : YAML::Node();
  }
};

std::optional<Node> Node::parse_yaml(std::string_view text, Diagnostics& diag) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diag.error("", std::string("YAML syntax error: ") + e.what());
    return std::nullopt;
  }
  if (!root.IsMap()) {
    diag.error("", "the configuration must be a YAML mapping");
    return std::nullopt;
  }
  return Node(std::make_unique<Impl>(std::move(root), "", diag));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;
Node::Node(Node&&) noexcept = default;
Node& Node::operator=(Node&&) noexcept = default;

const std::string& Node::path() const { return impl_->path; }
Diagnostics& Node::diagnostics() { return *impl_->diag; }

std::string Node::child_path(const std::string& key) const {
  return impl_->path.empty() ? key : impl_->path + "." + key;
}

bool Node::has(const std::string& key) const {
  YAML::Node v = impl_->child(key);
  return v.IsDefined() && !v.IsNull();
}

void Node::error(const std::string& key, const std::string& message) {
  impl_->diag->error(child_path(key), message);
}

void Node::forbid(const std::string& key, const std::string& why) {
  impl_->consumed.insert(key);
  if (impl_->child(key).IsDefined()) error(key, why);
}

std::optional<std::string> Node::optional_string(const std::string& key) {
  impl_->consumed.insert(key);
  if (!has(key)) return std::nullopt;
  YAML::Node v = impl_->child(key);
  if (!v.IsScalar()) {
    error(key, "must be a string");
    return std::nullopt;
  }
  return v.Scalar();
}

std::string Node::string(const std::string& key) {
  auto v = optional_string(key);
  if (!v) {
    error(key, "is required");
    return {};
  }
  if (v->empty()) error(key, "must not be empty");
  return *v;
}

namespace {
void canonical_text(const YAML::Node& n, std::string& out) {
  if (n.IsMap()) {
    std::map<std::string, YAML::Node> sorted;
    for (const auto& kv : n) sorted.emplace(kv.first.Scalar(), kv.second);
    out += '{';
    for (const auto& [k, v] : sorted) {
      out += std::to_string(k.size()) + ':' + k + '=';
      canonical_text(v, out);
      out += ';';
    }
    out += '}';
  } else if (n.IsSequence()) {
    out += '[';
    for (const auto& v : n) {
      canonical_text(v, out);
      out += ',';
    }
    out += ']';
  } else if (n.IsScalar()) {
    out += std::to_string(n.Scalar().size()) + ':' + n.Scalar();
  } else {
    out += '~';
  }
}
}  // namespace

std::string Node::canonical() const {
  std::string out;
  canonical_text(impl_->node, out);
  return out;
}

std::string Node::string(const std::string& key, const std::string& fallback) {
  return optional_string(key).value_or(fallback);
}

std::int64_t Node::integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) {
  auto s = optional_string(key);
  if (!s) return fallback;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size()) {
    error(key, "must be an integer, got '" + *s + "'");
    return fallback;
  }
  if (v < min || v > max) {
    error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                   ", got " + std::to_string(v));
    return fallback;
  }
  return v;
}

bool Node::boolean(const std::string& key, bool fallback) {
  auto s = optional_string(key);
  if (!s) return fallback;
  if (*s == "true") return true;
  if (*s == "false") return false;
  error(key, "must be true or false, got '" + *s + "'");
  return fallback;
}

std::optional<Duration> parse_duration(const std::string& text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return std::nullopt;
  std::string unit(end, text.data() + text.size());
  if (unit == "ms") return Duration(value);
  if (unit == "s") return std::chrono::seconds(value);
  if (unit == "m") return std::chrono::minutes(value);
  if (unit == "h") return std::chrono::hours(value);
  return std::nullopt;
}

Duration Node::duration(const std::string& key, Duration fallback, Duration min, Duration max) {
  auto s = optional_string(key);
  if (!s) return fallback;
  auto d = parse_duration(*s);
  if (!d) {
    error(key, "must be a duration such as 250ms, 3s or 5m, got '" + *s + "'");
    return fallback;
  }
  if (*d < min || *d > max) {
    error(key, "must be between " + std::to_string(min.count()) + "ms and " +
                   std::to_string(max.count()) + "ms, got " + *s);
    return fallback;
  }
  return *d;
}

std::vector<std::string> Node::string_list(const std::string& key) {
  impl_->consumed.insert(key);
  std::vector<std::string> out;
  if (!has(key)) return out;
  YAML::Node v = impl_->child(key);
  if (!v.IsSequence()) {
    error(key, "must be a list of strings");
    return out;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) {
      impl_->diag->error(child_path(key) + "[" + std::to_string(i) + "]", "must be a string");
      continue;
    }
    out.push_back(v[i].Scalar());
  }
  return out;
}

std::map<std::string, std::string> Node::string_map(const std::string& key) {
  impl_->consumed.insert(key);
  std::map<std::string, std::string> out;
  if (!has(key)) return out;
  YAML::Node v = impl_->child(key);
  if (!v.IsMap()) {
    error(key, "must be a mapping of strings to strings");
    return out;
  }
  for (const auto& kv : v) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
      error(key, "must be a mapping of strings to strings");
      continue;
    }
    out.emplace(kv.first.Scalar(), kv.second.Scalar());
  }
  return out;
}

Node Node::mapping(const std::string& key) {
  impl_->consumed.insert(key);
  YAML::Node v = has(key) ? impl_->child(key) : YAML::Node(YAML::NodeType::Map);
  return Node(std::make_unique<Impl>(v, child_path(key), *impl_->diag));
}

std::vector<Node> Node::sequence(const std::string& key) {
  impl_->consumed.insert(key);
  std::vector<Node> out;
  if (!has(key)) return out;
  YAML::Node v = impl_->child(key);
  if (!v.IsSequence()) {
    error(key, "must be a list");
    return out;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.push_back(Node(std::make_unique<Impl>(
        v[i], child_path(key) + "[" + std::to_string(i) + "]", *impl_->diag)));
  }
  return out;
}

void Node::reject_unknown_keys() {
  if (!impl_->node.IsMap()) return;
  for (const auto& kv : impl_->node) {
    std::string key = kv.first.Scalar();
    if (!impl_->consumed.contains(key)) error(key, "unknown field");
  }
}

}  // namespace trousseau::settings
