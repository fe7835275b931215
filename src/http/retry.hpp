// When and how long to wait before trying a request again.
#pragma once

#include <chrono>
#include <functional>

namespace trousseau::http {

struct RetryPolicy {
  unsigned max_attempts = 4;  ///< including the first one
  std::chrono::milliseconds base{50};
  std::chrono::milliseconds cap{2000};
};

/// The longest pause before retry number `retry` (0 before the first retry):
/// min(cap, base * 2^retry), never negative and free of overflow.
std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, unsigned retry);

/// "Full jitter": a uniform draw in [0, backoff_ceiling(policy, retry)].
std::chrono::milliseconds full_jitter(const RetryPolicy& policy, unsigned retry);

/// Chooses the pause before retry number `retry`. The client uses
/// full_jitter; the choice is injectable so that a test running under
/// ManualTime knows how far to advance the clock.
using BackoffFunction =
    std::function<std::chrono::milliseconds(const RetryPolicy& policy, unsigned retry)>;

/// 429 and every 5xx: the server asks us to come back later.
constexpr bool retryable_status(unsigned status) { return status == 429 || status >= 500; }

}  // namespace trousseau::http
