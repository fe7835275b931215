// When and how long to wait before trying a request again.
#pragma once

#include <chrono>

namespace trousseau::http {

struct RetryPolicy {
  unsigned max_attempts = 4;  ///< including the first one
  std::chrono::milliseconds base{50};
  std::chrono::milliseconds cap{2000};
};

/// "Full jitter": a uniform draw in [0, min(cap, base * 2^retry)], where
/// `retry` counts the retries already made (0 before the first retry).
std::chrono::milliseconds full_jitter(const RetryPolicy& policy, unsigned retry);

/// 429 and every 5xx: the server asks us to come back later.
constexpr bool retryable_status(unsigned status) { return status == 429 || status >= 500; }

}  // namespace trousseau::http
