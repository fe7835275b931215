// The delay sampler of the injected provider, alone: its statistics with a
// fixed seed.
#include "bench/providers/injected/delay.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace trousseau::bench::injected {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

constexpr int kDraws = 100'000;

std::vector<nanoseconds> draw(const DelaySpec& spec, std::uint64_t seed, int n = kDraws) {
  DelaySampler sampler(spec, seed);
  std::vector<nanoseconds> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(sampler.next());
  return out;
}

DelaySpec lognormal(nanoseconds median, nanoseconds p99) {
  DelaySpec spec;
  spec.distribution = DelaySpec::Distribution::lognormal;
  spec.median = median;
  spec.p99 = p99;
  return spec;
}

DelaySpec constant(nanoseconds value) {
  DelaySpec spec;
  spec.value = value;
  return spec;
}

/// The q-quantile of `draws` (sorted in place).
double quantile(std::vector<nanoseconds>& draws, double q) {
  std::sort(draws.begin(), draws.end());
  return static_cast<double>(draws[static_cast<std::size_t>(q * (draws.size() - 1))].count());
}

TEST(DelaySampler, LognormalSampleMedianAndP99MatchTheConfiguredOnes) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::vector<nanoseconds> d = draw(lognormal(10ms, 40ms), seed);
    // Sampling error of 100k draws: about 0.3% at the median, 0.8% at p99.
    EXPECT_NEAR(quantile(d, 0.5), 10e6, 10e6 * 0.02) << "seed " << seed;
    EXPECT_NEAR(quantile(d, 0.99), 40e6, 40e6 * 0.04) << "seed " << seed;
  }
}

TEST(DelaySampler, LognormalWithANarrowTailStaysNearItsMedian) {
  std::vector<nanoseconds> d = draw(lognormal(2ms, 3ms), 7);
  EXPECT_NEAR(quantile(d, 0.5), 2e6, 2e6 * 0.02);
  EXPECT_NEAR(quantile(d, 0.99), 3e6, 3e6 * 0.04);
  EXPECT_GT(d.front(), 0ns);
}

TEST(DelaySampler, TheSameSeedDrawsTheSameSequence) {
  EXPECT_EQ(draw(lognormal(10ms, 40ms), 42, 1000), draw(lognormal(10ms, 40ms), 42, 1000));
  EXPECT_NE(draw(lognormal(10ms, 40ms), 42, 1000), draw(lognormal(10ms, 40ms), 43, 1000));
}

TEST(DelaySampler, ConstantIsConstant) {
  for (nanoseconds d : draw(constant(2ms), 1, 10'000)) ASSERT_EQ(d, 2ms);
  for (nanoseconds d : draw(constant(0ms), 1, 100)) ASSERT_EQ(d, 0ns);
}

TEST(DelaySampler, OutliersTakeTheOutlierDelayAtTheConfiguredRate) {
  DelaySpec spec = constant(2ms);
  spec.outlier_rate = 0.01;
  spec.outlier_delay = 1s;
  std::vector<nanoseconds> d = draw(spec, 1);
  const auto outliers = std::count(d.begin(), d.end(), nanoseconds(1s));
  const auto normal = std::count(d.begin(), d.end(), nanoseconds(2ms));
  EXPECT_EQ(outliers + normal, kDraws);  // nothing else
  // Binomial(100000, 0.01): mean 1000, standard deviation 31.5; allow 5.
  const double sd = std::sqrt(kDraws * 0.01 * 0.99);
  EXPECT_NEAR(static_cast<double>(outliers), kDraws * 0.01, 5 * sd);
}

TEST(DelaySampler, OutliersDoNotShiftTheBaseSequence) {
  DelaySpec with = lognormal(10ms, 40ms);
  with.outlier_rate = 0.5;
  with.outlier_delay = 1s;
  std::vector<nanoseconds> base = draw(lognormal(10ms, 40ms), 9, 1000);
  std::vector<nanoseconds> mixed = draw(with, 9, 1000);
  for (std::size_t i = 0; i < base.size(); ++i) {
    if (mixed[i] != 1s) {
      ASSERT_EQ(mixed[i], base[i]) << i;
    }
  }
}

TEST(DelaySampler, RateZeroNeverAndRateOneAlwaysTakesTheOutlierDelay) {
  DelaySpec never = constant(2ms);
  never.outlier_delay = 1s;
  for (nanoseconds d : draw(never, 1, 10'000)) ASSERT_EQ(d, 2ms);
  DelaySpec always = never;
  always.outlier_rate = 1;
  for (nanoseconds d : draw(always, 1, 10'000)) ASSERT_EQ(d, 1s);
}

TEST(DelaySampler, ALongTailIsCutAtTheMaximum) {
  // sigma = ln(3.6e6) / 2.326 ≈ 6.5: about one draw in ten exceeds an hour.
  std::vector<nanoseconds> d = draw(lognormal(1s, std::chrono::hours(1000)), 1);
  EXPECT_EQ(*std::max_element(d.begin(), d.end()), DelaySampler::kMaxDelay);
}

}  // namespace
}  // namespace trousseau::bench::injected
