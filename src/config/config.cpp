#include "config/config.hpp"
#include "config/listen.hpp"

#include <algorithm>
#include <charconv>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "envelope/format.hpp"

namespace trousseau::config {

using settings::Node;

namespace {

using namespace std::chrono_literals;

/// Slots and threshold: what the current policy and every earlier one have.
void parse_slots(Node& node, std::vector<std::vector<std::string>>& out, unsigned& threshold) {
  std::vector<Node> slots = node.sequence("slots");
  if (slots.empty()) node.error("slots", "at least one slot is required");
  if (slots.size() > envelope::kMaxSlots) {
    node.error("slots", "at most " + std::to_string(envelope::kMaxSlots) + " slots");
  }
  const auto n = static_cast<std::int64_t>(std::max<std::size_t>(slots.size(), 1));
  for (Node& s : slots) {
    std::vector<std::string> names = s.string_list("providers");
    if (names.empty()) s.error("providers", "a slot needs at least one provider");
    if (names.size() > envelope::kMaxWrapsPerSlot) {
      s.error("providers", "at most " + std::to_string(envelope::kMaxWrapsPerSlot) +
                               " providers per slot");
    }
    s.reject_unknown_keys();
    out.push_back(std::move(names));
  }
  if (!node.has("threshold")) node.error("threshold", "is required");
  std::int64_t k = node.integer("threshold", 1, 1, 255);
  if (k > n) {
    node.error("threshold", "threshold " + std::to_string(k) + " is larger than the " +
                                std::to_string(n) + " slots");
    k = 1;
  }
  threshold = static_cast<unsigned>(k);
}

void parse_policy(Node node, PolicyConfig& policy) {
  parse_slots(node, policy.slots, policy.threshold);
  const auto n = static_cast<std::int64_t>(std::max<std::size_t>(policy.slots.size(), 1));
  const auto k = static_cast<std::int64_t>(policy.threshold);
  std::int64_t w = node.integer("min_encrypt_slots", n, 1, 255);
  if (w < k || w > n) {
    node.error("min_encrypt_slots", "must lie between the threshold (" + std::to_string(k) +
                                        ") and the number of slots (" + std::to_string(n) +
                                        "), got " + std::to_string(w));
    w = n;
  }
  policy.min_encrypt_slots = static_cast<unsigned>(w);
  std::string strategy = node.string("decrypt", "hedged");
  if (strategy == "hedged") {
    policy.decrypt = DecryptStrategy::hedged;
  } else if (strategy == "all") {
    policy.decrypt = DecryptStrategy::all;
  } else {
    node.error("decrypt", "must be 'hedged' or 'all', got '" + strategy + "'");
  }
  for (Node& earlier : node.sequence("previous")) {
    EarlierPolicy e;
    parse_slots(earlier, e.slots, e.threshold);
    earlier.reject_unknown_keys();
    policy.previous.push_back(std::move(e));
  }
  node.reject_unknown_keys();
}

void parse_providers(Node& root, Config& cfg) {
  std::vector<Node> nodes = root.sequence("providers");
  if (nodes.empty()) root.error("providers", "at least one provider is required");
  std::set<std::string> names;
  for (Node& p : nodes) {
    ProviderConfig pc;
    pc.fingerprint = p.canonical();
    pc.name = p.string("name");
    if (!pc.name.empty() && !envelope::is_valid_provider_name(pc.name)) {
      p.error("name", "'" + pc.name +
                          "' must be 1-63 lowercase letters, digits or '-', starting and "
                          "ending with a letter or digit");
    }
    if (!pc.name.empty() && !names.insert(pc.name).second) {
      p.error("name", "duplicate provider name '" + pc.name + "'");
    }
    pc.type = p.string("type");
    pc.timeout = p.duration("timeout", pc.timeout, 1ms, 60s);
    pc.max_inflight = static_cast<unsigned>(p.integer("max_inflight", pc.max_inflight, 1, 4096));
    pc.max_queue = static_cast<unsigned>(p.integer("max_queue", pc.max_queue, 0, 1 << 20));
    if (!pc.type.empty()) {
      const providers::ProviderFactory* f = providers::Registry::instance().find(pc.type);
      if (f == nullptr) {
        p.error("type", "unknown provider type '" + pc.type + "' (built in: " +
                            providers::Registry::instance().types() + ")");
      } else {
        pc.settings = f->parse(p);
      }
    }
    p.reject_unknown_keys();
    cfg.providers.push_back(std::move(pc));
  }
}

/// Every provider a policy names is defined, and sits in one slot only.
void check_slots(Diagnostics& diag, const std::string& prefix,
                 const std::vector<std::vector<std::string>>& slots,
                 const std::set<std::string>& defined, std::set<std::string>& used_anywhere) {
  std::map<std::string, std::size_t> used;  // provider -> slot index
  for (std::size_t i = 0; i < slots.size(); ++i) {
    for (const std::string& name : slots[i]) {
      const std::string path = prefix + "slots[" + std::to_string(i) + "].providers";
      if (!defined.contains(name)) {
        diag.error(path, "provider '" + name + "' is not defined in providers");
      }
      auto [it, fresh] = used.emplace(name, i);
      if (!fresh) {
        diag.error(path, "provider '" + name + "' is already used in slot " +
                             std::to_string(it->second) +
                             ": each provider may hold one share only");
      }
      used_anywhere.insert(name);
    }
  }
}

void cross_check(Node& root, Config& cfg) {
  std::set<std::string> defined;
  for (const auto& p : cfg.providers) defined.insert(p.name);
  std::set<std::string> used;
  check_slots(root.diagnostics(), "policy.", cfg.policy.slots, defined, used);
  for (std::size_t i = 0; i < cfg.policy.previous.size(); ++i) {
    check_slots(root.diagnostics(), "policy.previous[" + std::to_string(i) + "].",
                cfg.policy.previous[i].slots, defined, used);
  }
  for (const auto& [origin, name] : cfg.legacy) {
    const auto it = std::find_if(cfg.providers.begin(), cfg.providers.end(),
                                 // clang 14 cannot capture a structured binding
                                 [&name = name](const ProviderConfig& p) { return p.name == name; });
    const std::string path = "legacy." + origin;
    if (it == cfg.providers.end()) {
      root.diagnostics().error(path, "provider '" + name + "' is not defined in providers");
      continue;
    }
    const std::string& want = legacy_origin_types().at(origin);
    if (it->type != want) {
      root.diagnostics().error(path, "provider '" + name + "' has type " + it->type +
                                         "; the original Trousseau's " + origin +
                                         " ciphertexts need a provider of type " + want);
    }
    used.insert(name);
  }
  for (std::size_t i = 0; i < cfg.providers.size(); ++i) {
    if (!cfg.providers[i].name.empty() && !used.contains(cfg.providers[i].name)) {
      root.diagnostics().error("providers[" + std::to_string(i) + "]",
                               "provider '" + cfg.providers[i].name +
                                   "' is not used by any policy slot, current or previous, nor by legacy");
    }
  }
}

}  // namespace

namespace {

std::optional<Config> parse(Node& root, Diagnostics& diag) {
  Config cfg;
  cfg.socket = root.string("socket", cfg.socket);
  if (cfg.socket.empty() || cfg.socket.front() != '/') {
    root.error("socket", "must be an absolute path");
  } else if (cfg.socket.size() > 107) {
    root.error("socket", "is longer than a unix socket path may be (107 bytes)");
  }
  cfg.socket_group = root.optional_string("socket_group");
  cfg.state_dir = root.string("state_dir", cfg.state_dir);
  const std::string level = root.string("log_level", "info");
  if (level == "debug") {
    cfg.log_level = log::Level::debug;
  } else if (level == "info") {
    cfg.log_level = log::Level::info;
  } else if (level == "warn") {
    cfg.log_level = log::Level::warn;
  } else if (level == "error") {
    cfg.log_level = log::Level::error;
  } else {
    root.error("log_level", "must be debug, info, warn or error");
  }
  const std::string format = root.string("log_format", "json");
  if (format == "json") {
    cfg.log_format = log::Format::json;
  } else if (format == "logfmt") {
    cfg.log_format = log::Format::logfmt;
  } else {
    root.error("log_format", "must be json or logfmt");
  }
  Node telemetry = root.mapping("telemetry");
  const std::string listen = telemetry.string("listen", *cfg.telemetry.listen);
  if (listen == "off") {
    cfg.telemetry.listen.reset();
  } else if (!parse_listen_address(listen).ok()) {
    telemetry.error("listen", "must be host:port with an IP address (127.0.0.1:8095, [::1]:8095) or off");
  } else {
    cfg.telemetry.listen = listen;
  }
  telemetry.reject_unknown_keys();
  Node sops = root.mapping("sops_keyservice");
  const std::string sops_socket = sops.string("socket", "off");
  if (sops_socket != "off") {
    if (sops_socket.empty() || sops_socket.front() != '/') {
      sops.error("socket", "must be an absolute path, or off");
    } else if (sops_socket.size() > 107) {
      sops.error("socket", "is longer than a unix socket path may be (107 bytes)");
    } else if (sops_socket == cfg.socket) {
      sops.error("socket", "must differ from the KMS socket");
    } else {
      cfg.sops_keyservice.socket = sops_socket;
    }
  }
  sops.reject_unknown_keys();
  parse_providers(root, cfg);
  parse_policy(root.mapping("policy"), cfg.policy);
  if (!root.has("policy")) root.error("policy", "is required");

  Node health = root.mapping("health");
  cfg.health.probe_interval = health.duration("probe_interval", cfg.health.probe_interval, 100ms, 1h);
  cfg.health.unhealthy_probe_interval =
      health.duration("unhealthy_probe_interval", cfg.health.unhealthy_probe_interval, 50ms, 1h);
  cfg.health.probe_timeout = health.duration("probe_timeout", cfg.health.probe_timeout, 10ms, 1min);
  cfg.health.failure_threshold = static_cast<unsigned>(
      health.integer("failure_threshold", cfg.health.failure_threshold, 1, 100));
  cfg.health.breaker_backoff = health.duration("breaker_backoff", cfg.health.breaker_backoff, 10ms, 1h);
  health.reject_unknown_keys();

  Node request = root.mapping("request");
  cfg.request.default_deadline =
      request.duration("default_deadline", cfg.request.default_deadline, 10ms, 60s);
  cfg.request.safety_margin = request.duration("safety_margin", cfg.request.safety_margin, 0ms, 10s);
  cfg.request.encrypt_grace = request.duration("encrypt_grace", cfg.request.encrypt_grace, 0ms, 10s);
  cfg.request.min_hedge_delay =
      request.duration("min_hedge_delay", cfg.request.min_hedge_delay, 0ms, 10s);
  request.reject_unknown_keys();

  Node legacy = root.mapping("legacy");
  for (const auto& [origin, type] : legacy_origin_types()) {
    if (std::optional<std::string> name = legacy.optional_string(origin)) cfg.legacy.emplace(origin, *name);
  }
  legacy.reject_unknown_keys();

  root.reject_unknown_keys();
  cross_check(root, cfg);
  if (!diag.ok()) return std::nullopt;
  return cfg;
}

}  // namespace

Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return invalid_argument("listen address " + text + " is not host:port");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port > 65535) {
    return invalid_argument("listen address " + text + " has no valid port");
  }
  boost::system::error_code bad;
  auto address = boost::asio::ip::make_address(host, bad);
  if (bad) return invalid_argument("listen address " + text + ": " + host + " is not an IP address");
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

std::optional<Config> load_string(const std::string& text, Diagnostics& diag) {
  std::optional<Node> root = Node::parse_yaml(text, diag);
  if (!root) return std::nullopt;
  return parse(*root, diag);
}

std::optional<Config> load_file(const std::string& path, Diagnostics& diag) {
  std::ifstream in(path);
  if (!in) {
    diag.error("", "cannot read " + path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), diag);
}

Result<std::unique_ptr<providers::Provider>> create_provider(
    const ProviderConfig& pc, const providers::ProviderContext& context) {
  const providers::ProviderFactory* f = providers::Registry::instance().find(pc.type);
  if (f == nullptr || !pc.settings) {
    return Error(Code::failed_precondition, "provider '" + pc.name + "': unknown type " + pc.type);
  }
  auto p = f->create(pc.name, *pc.settings, context);
  if (!p.ok()) return p.error().prefixed("provider '" + pc.name + "'");
  return std::move(p.value());
}

}  // namespace trousseau::config
