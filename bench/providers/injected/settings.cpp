#include "bench/providers/injected/settings.hpp"

#include <charconv>
#include <limits>

namespace trousseau::bench::injected {

namespace {

using namespace std::chrono_literals;
using settings::Duration;
using settings::Node;

constexpr Duration kLongest = std::chrono::hours(1);

Duration required_duration(Node& node, const std::string& key, Duration min) {
  if (!node.has(key)) {
    node.error(key, "is required");
    return min;
  }
  return node.duration(key, min, min, kLongest);
}

DelaySpec parse_delay(Node& node) {
  DelaySpec d;
  const std::string distribution = node.string("distribution");
  if (distribution == "constant") {
    d.distribution = DelaySpec::Distribution::constant;
    d.value = required_duration(node, "value", 0ms);
    node.forbid("median", "is for distribution: lognormal");
    node.forbid("p99", "is for distribution: lognormal");
  } else if (distribution == "lognormal") {
    d.distribution = DelaySpec::Distribution::lognormal;
    d.median = required_duration(node, "median", 1ms);
    d.p99 = required_duration(node, "p99", 1ms);
    if (node.has("median") && node.has("p99") && d.p99 <= d.median) {
      node.error("p99",
                 "must be longer than median (for a fixed delay, use distribution: constant)");
      d.p99 = d.median * 2;  // keeps the spec valid for whoever reads on
    }
    node.forbid("value", "is for distribution: constant");
  } else if (!distribution.empty()) {
    node.error("distribution", "must be 'constant' or 'lognormal', got '" + distribution + "'");
  }
  node.reject_unknown_keys();
  return d;
}

double parse_rate(Node& node, const std::string& key) {
  std::optional<std::string> text = node.optional_string(key);
  if (!text) {
    node.error(key, "is required");
    return 0;
  }
  double rate = -1;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), rate);
  if (ec != std::errc() || end != text->data() + text->size() || !(rate >= 0 && rate <= 1)) {
    node.error(key, "must be a fraction between 0 and 1, got '" + *text + "'");
    return 0;
  }
  return rate;
}

}  // namespace

std::unique_ptr<Settings> parse_settings(Node& node) {
  auto s = std::make_unique<Settings>();
  s->hang = node.boolean("hang", false);
  s->hang_unwrap = node.boolean("hang_unwrap", false);
  Node delay = node.mapping("delay");
  if (node.has("delay")) {
    s->delay = parse_delay(delay);
  } else if (!s->hang) {
    node.error("delay", "is required (unless hang: true)");
  }
  Node outliers = node.mapping("outliers");
  if (node.has("outliers")) {
    s->delay.outlier_rate = parse_rate(outliers, "rate");
    s->delay.outlier_delay = required_duration(outliers, "delay", 0ms);
    outliers.reject_unknown_keys();
  }
  if (node.has("seed")) {
    s->seed = static_cast<std::uint64_t>(
        node.integer("seed", 0, 0, std::numeric_limits<std::int64_t>::max()));
  }
  s->record = node.string("record", "");
  if (!s->record.empty() && s->record.front() != '/')
    node.error("record", "must be an absolute path");
  return s;
}

}  // namespace trousseau::bench::injected
