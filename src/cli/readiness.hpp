// What `trousseau status` reads from the metrics listener: GET
// <url>/readyz?verbose, whose JSON document docs/metrics.md specifies.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "http/message.hpp"

namespace trousseau::cli {

struct ProviderReadiness {
  std::string name, type, breaker, last_error, key_identity;
  std::optional<std::int64_t> slot, consecutive_failures, inflight, queued;
  std::optional<bool> healthy, probed;
  std::optional<double> mean_ms, slow_after_ms;  ///< the engine's estimate (docs/metrics.md)
};

struct Readiness {
  unsigned http_status = 0;
  bool ready = false;  ///< HTTP 200 and "ready": true
  std::string reason, key_id;
  std::optional<std::int64_t> threshold, min_encrypt_slots, slots, healthy_slots;
  std::vector<ProviderReadiness> providers;
};

/// The endpoint for `base_url` (http://host[:port][/prefix]): plain http to
/// a loopback address only, since the listener serves nothing else
/// (docs/metrics.md). An https URL, another host, a query or a fragment is
/// refused with a message saying so.
Result<http::Url> readiness_url(const std::string& base_url);

/// Reads the document. Fields that are missing or of another type are left
/// empty (a newer or older plugin may differ); a body that is not a JSON
/// object with a boolean "ready" is refused.
Result<Readiness> parse_readiness(unsigned http_status, std::string_view body);

/// GET readiness_url(base_url) within `timeout`, once (a 503 is an answer,
/// not something to retry), then parse_readiness.
Result<Readiness> fetch_readiness(const std::string& base_url, std::chrono::milliseconds timeout);

/// The summary line and the providers table `trousseau status` prints.
std::string render_readiness(const Readiness& r);

}  // namespace trousseau::cli
