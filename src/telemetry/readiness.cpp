#include "telemetry/readiness.hpp"

#include <boost/json.hpp>

namespace trousseau::telemetry {

namespace json = boost::json;

Readiness readiness(const quorum::Engine& engine) {
  Readiness r;
  const quorum::Status status = engine.status();
  r.ready = status.healthy;
  r.key_id = status.key_id;
  r.reason = status.healthy ? "" : status.detail;
  const config::PolicyConfig& policy = engine.config().policy;
  r.threshold = policy.threshold;
  r.min_encrypt_slots = policy.min_encrypt_slots;
  r.slots = policy.slots;
  for (std::size_t s = 0; s < engine.slots().size(); ++s) {
    bool any = false;
    for (quorum::ManagedProvider* p : engine.slots()[s]) {
      const quorum::HealthSnapshot h = p->health();
      ProviderState ps;
      ps.name = p->name();
      ps.type = p->provider().type();
      ps.slot = s;
      ps.healthy = h.healthy;
      ps.probed = h.probed;
      ps.breaker_open = !h.healthy;
      ps.consecutive_failures = h.consecutive_failures;
      ps.last_error = h.last_error;
      if (p->latency().known()) {
        ps.latency_mean_ms = static_cast<double>(p->latency().mean().count()) / 1000.0;
        ps.latency_slow_ms = static_cast<double>(p->latency().high_percentile().count()) / 1000.0;
      }
      ps.inflight = p->limiter().in_flight();
      ps.queued = p->limiter().queued();
      ps.key_identity = p->provider().key_identity();
      any = any || h.healthy;
      r.providers.push_back(std::move(ps));
    }
    r.healthy_slots += any ? 1 : 0;
  }
  return r;
}

std::string to_json(const Readiness& r) {
  json::array slots;
  for (const auto& s : r.slots) {
    json::array names;
    for (const auto& n : s) names.emplace_back(n);
    slots.emplace_back(std::move(names));
  }
  json::array providers;
  for (const ProviderState& p : r.providers) {
    json::value latency = nullptr;
    if (p.latency_mean_ms) {
      latency = json::object{{"mean", *p.latency_mean_ms}, {"slow_after", *p.latency_slow_ms}};
    }
    providers.emplace_back(json::object{
        {"name", p.name},
        {"type", p.type},
        {"slot", p.slot},
        {"healthy", p.healthy},
        {"probed", p.probed},
        {"breaker", p.breaker_open ? "open" : "closed"},
        {"consecutive_failures", p.consecutive_failures},
        {"last_error", p.last_error},
        {"latency_ms", latency},
        {"inflight", p.inflight},
        {"queued", p.queued},
        {"key_identity", p.key_identity},
    });
  }
  json::object doc{
      {"ready", r.ready},
      {"key_id", r.key_id},
      {"reason", r.reason},
      {"policy", json::object{{"threshold", r.threshold},
                              {"min_encrypt_slots", r.min_encrypt_slots},
                              {"slots", std::move(slots)}}},
      {"healthy_slots", r.healthy_slots},
      {"providers", std::move(providers)},
  };
  return json::serialize(doc) + "\n";
}

}  // namespace trousseau::telemetry
