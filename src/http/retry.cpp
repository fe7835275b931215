#include "http/retry.hpp"

#include <algorithm>
#include <random>

namespace trousseau::http {

std::chrono::milliseconds full_jitter(const RetryPolicy& policy, unsigned retry) {
  // Shift at most 30 places: the cap bounds the result long before that.
  const long long base = std::max<long long>(policy.base.count(), 0);
  const long long grown = base << std::min(retry, 30u);
  const long long ceiling = std::min<long long>(policy.cap.count(), grown);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<long long> pick(0, std::max<long long>(ceiling, 0));
  return std::chrono::milliseconds(pick(rng));
}

}  // namespace trousseau::http
