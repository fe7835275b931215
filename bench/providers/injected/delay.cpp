#include "bench/providers/injected/delay.hpp"

#include <cassert>
#include <cmath>

namespace trousseau::bench::injected {

namespace {

std::lognormal_distribution<double> lognormal_for(const DelaySpec& spec) {
  if (spec.distribution != DelaySpec::Distribution::lognormal) return {};
  assert(spec.median.count() > 0 && spec.p99 > spec.median);
  const double mu = std::log(static_cast<double>(spec.median.count()));
  const double sigma = (std::log(static_cast<double>(spec.p99.count())) - mu) / kZ99;
  return std::lognormal_distribution<double>(mu, sigma);
}

}  // namespace

DelaySampler::DelaySampler(const DelaySpec& spec, std::uint64_t seed)
    : spec_(spec), rng_(seed), outlier_(spec.outlier_rate), lognormal_(lognormal_for(spec)) {}

std::chrono::nanoseconds DelaySampler::next() {
  // Both draws every time: the base sequence of a seed does not depend on
  // the outlier rate.
  const bool outlier = outlier_(rng_);
  std::chrono::nanoseconds base = spec_.value;
  if (spec_.distribution == DelaySpec::Distribution::lognormal) {
    const double ns = lognormal_(rng_);
    base = ns >= static_cast<double>(kMaxDelay.count())
               ? kMaxDelay
               : std::chrono::nanoseconds(std::llround(ns));
  }
  return outlier ? spec_.outlier_delay : base;
}

}  // namespace trousseau::bench::injected
