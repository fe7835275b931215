#include "histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace trousseau::bench {
namespace {

constexpr double kPrecision = Histogram::kRelativeError;

/// The nearest-rank percentile of `sorted`: rank ceil(q * n), at least 1,
/// with q * n taken as the whole number it is meant to be when it is one.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double q) {
  const double x = q * static_cast<double>(sorted.size());
  const double whole = std::round(x);
  const auto rank = static_cast<std::size_t>(std::abs(x - whole) < 1e-6 ? whole : std::ceil(x));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

/// Log-uniform over the whole range: every power of two gets its share.
std::vector<std::uint64_t> spread_values(std::size_t n, unsigned seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> exponent(std::log(1e3), std::log(1e11));
  std::vector<std::uint64_t> values(n);
  for (auto& v : values) v = static_cast<std::uint64_t>(std::exp(exponent(random)));
  return values;
}

TEST(Histogram, EmptyReportsZeroForEverything) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0);
  EXPECT_EQ(h.percentile(1.0), 0);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0);
  EXPECT_EQ(h.below_range(), 0u);
  EXPECT_EQ(h.above_range(), 0u);
}

TEST(Histogram, OneValueIsReportedExactlyAtEveryPercentile) {
  Histogram h;
  h.record(12'345'678);
  EXPECT_EQ(h.count(), 1u);
  for (double q : {0.0, 0.5, 0.99, 1.0}) EXPECT_EQ(h.percentile(q), 12'345'678) << q;
  EXPECT_EQ(h.min(), 12'345'678u);
  EXPECT_EQ(h.max(), 12'345'678u);
  EXPECT_EQ(h.mean(), 12'345'678);
}

TEST(Histogram, PercentilesOfOneToHundredThousandMicrosecondsAreWithinThePrecision) {
  Histogram h;
  for (std::uint64_t us = 1; us <= 100'000; ++us) h.record(us * 1'000);
  ASSERT_EQ(h.count(), 100'000u);
  // Rank ceil(q * n) of 1 µs, 2 µs, ... is q * n µs.
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double expected = q * 100'000 * 1'000;
    EXPECT_NEAR(h.percentile(q), expected, expected * kPrecision) << q;
  }
  EXPECT_EQ(h.max(), 100'000'000u);
  EXPECT_EQ(h.min(), 1'000u);
  EXPECT_DOUBLE_EQ(h.mean(), 50'000.5 * 1'000);
}

TEST(Histogram, PercentilesAcrossEightDecadesAreWithinThePrecision) {
  std::vector<std::uint64_t> values = spread_values(50'000, 7);
  Histogram h;
  for (std::uint64_t v : values) h.record(v);
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const auto expected = static_cast<double>(exact_percentile(values, q));
    EXPECT_NEAR(h.percentile(q), expected, expected * kPrecision) << q;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
}

TEST(Histogram, RanksThatAreWholeNumbersAreNotRoundedUp) {
  // 0.9 * 10 is 9.000000000000002 in doubles: the 9th value, not the 10th.
  Histogram h;
  for (std::uint64_t us = 1; us <= 10; ++us) h.record(us * 1'000'000);
  EXPECT_NEAR(h.percentile(0.9), 9e6, 9e6 * kPrecision);
}

TEST(Histogram, MergedHistogramsEqualOneThatRecordedEverything) {
  const std::vector<std::uint64_t> values = spread_values(20'000, 11);
  Histogram all;
  std::vector<Histogram> parts(4);
  for (std::size_t i = 0; i < values.size(); ++i) {
    all.record(values[i]);
    parts[i % parts.size()].record(values[i]);
  }
  Histogram merged;
  for (const Histogram& part : parts) merged.merge(part);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    EXPECT_EQ(merged.percentile(q), all.percentile(q)) << q;
  }
}

TEST(Histogram, MergingAnEmptyHistogramChangesNothing) {
  Histogram h;
  h.record(5'000);
  h.record(7'000);
  h.merge(Histogram());
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 5'000u);
  EXPECT_EQ(h.max(), 7'000u);

  Histogram empty;
  empty.merge(h);
  EXPECT_EQ(empty.count(), 2u);
  EXPECT_EQ(empty.min(), 5'000u);
  EXPECT_EQ(empty.percentile(1.0), h.percentile(1.0));
}

TEST(Histogram, ValuesBeyondTheRangeAreClampedToItsEdgesAndCounted) {
  Histogram h;
  h.record(0);
  h.record(999);
  h.record(200'000'000'000);  // 200 s
  h.record(50'000);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.below_range(), 2u);
  EXPECT_EQ(h.above_range(), 1u);
  EXPECT_EQ(h.min(), Histogram::kLowestNs);
  EXPECT_EQ(h.max(), Histogram::kHighestNs);
  EXPECT_EQ(h.percentile(1.0), static_cast<double>(Histogram::kHighestNs));
  EXPECT_NEAR(h.percentile(0.0), static_cast<double>(Histogram::kLowestNs),
              Histogram::kLowestNs * kPrecision);
  EXPECT_DOUBLE_EQ(h.mean(), (2.0 * Histogram::kLowestNs + Histogram::kHighestNs + 50'000) / 4);
}

TEST(Histogram, QuantilesOutsideZeroToOneAreClamped) {
  Histogram h;
  for (std::uint64_t us = 1; us <= 100; ++us) h.record(us * 1'000);
  EXPECT_EQ(h.percentile(-1), h.percentile(0));
  EXPECT_EQ(h.percentile(2), h.percentile(1));
}

}  // namespace
}  // namespace trousseau::bench
