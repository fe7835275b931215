#include "http/retry.hpp"

#include <algorithm>
#include <random>

namespace trousseau::http {

std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, unsigned retry) {
  const long long cap = std::max<long long>(policy.cap.count(), 0);
  long long ceiling = std::clamp<long long>(policy.base.count(), 0, cap);
  // Double until the cap: at most 63 rounds, and never past the cap.
  for (unsigned i = 0; i < retry && ceiling > 0 && ceiling < cap; ++i) {
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  }
  return std::chrono::milliseconds(ceiling);
}

std::chrono::milliseconds full_jitter(const RetryPolicy& policy, unsigned retry) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<long long> pick(0, backoff_ceiling(policy, retry).count());
  return std::chrono::milliseconds(pick(rng));
}

}  // namespace trousseau::http
