// How long an injected provider waits before it answers: a distribution,
// optional outliers, and a seedable generator, so that a bench run can be
// repeated draw for draw. Apart from the provider so that its statistics
// can be tested alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace trousseau::bench::injected {

/// The standard normal distribution's 0.99 quantile. A log-normal delay
/// with median m and 99th percentile q has mu = ln m and
/// sigma = (ln q - ln m) / kZ99.
inline constexpr double kZ99 = 2.3263478740;

struct DelaySpec {
  enum class Distribution { constant, lognormal };
  Distribution distribution = Distribution::constant;
  std::chrono::nanoseconds value{0};          ///< constant
  std::chrono::nanoseconds median{0};         ///< lognormal: > 0
  std::chrono::nanoseconds p99{0};            ///< lognormal: > median
  double outlier_rate = 0;                    ///< this fraction of draws, in [0, 1],
  std::chrono::nanoseconds outlier_delay{0};  ///< is this instead
};

/// Not thread-safe: its owner serialises the draws.
class DelaySampler {
 public:
  /// The longest delay drawn: a log-normal tail is cut here.
  static constexpr std::chrono::nanoseconds kMaxDelay = std::chrono::hours(1);

  /// `spec` must be valid (settings.cpp checks it): for a log-normal,
  /// 0 < median < p99.
  DelaySampler(const DelaySpec& spec, std::uint64_t seed);

  std::chrono::nanoseconds next();

 private:
  DelaySpec spec_;
  std::mt19937_64 rng_;
  std::bernoulli_distribution outlier_;
  std::lognormal_distribution<double> lognormal_;
};

}  // namespace trousseau::bench::injected
