// What /readyz, /readyz?verbose and the state gauges of /metrics report:
// read from the engine in force and its providers' cached health. Never
// calls a provider, never holds a secret.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "quorum/engine.hpp"

namespace trousseau::telemetry {

struct ProviderState {
  std::string name;
  std::string type;
  std::size_t slot = 0;
  bool healthy = false;
  bool probed = false;
  bool breaker_open = false;
  unsigned consecutive_failures = 0;
  std::string last_error;
  /// The engine's estimate (the one it ranks and hedges with), ms.
  std::optional<double> latency_mean_ms;
  std::optional<double> latency_slow_ms;  ///< a call slower than this gets hedged
  unsigned inflight = 0;
  unsigned queued = 0;
  std::string key_identity;
};

struct Readiness {
  bool ready = false;  ///< W slots have a healthy provider
  std::string key_id;
  std::string reason;  ///< why not ready
  unsigned threshold = 0;
  unsigned min_encrypt_slots = 0;
  std::vector<std::vector<std::string>> slots;
  std::size_t healthy_slots = 0;
  std::vector<ProviderState> providers;
};

Readiness readiness(const quorum::Engine& engine);

/// The /readyz?verbose document (docs/metrics.md).
std::string to_json(const Readiness& r);

}  // namespace trousseau::telemetry
