#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace trousseau::bench {

namespace {

// Values below 2 * kSub have a bucket each. Above, the power of two
// [2^k, 2^(k+1)) is cut into kSub buckets of width 2^(k - kSubBits).
constexpr unsigned kSubBits = 7;
constexpr std::uint64_t kSub = std::uint64_t{1} << kSubBits;
static_assert(Histogram::kRelativeError * 2 * kSub == 1.0);

constexpr std::size_t raw_index(std::uint64_t v) {
  if (v < kSub) return static_cast<std::size_t>(v);
  const unsigned k = static_cast<unsigned>(std::bit_width(v)) - 1;  // floor(log2 v)
  return (static_cast<std::size_t>(k - kSubBits + 1) << kSubBits) +
         static_cast<std::size_t>((v >> (k - kSubBits)) - kSub);
}

constexpr std::uint64_t lower_bound(std::size_t index) {
  if (index < 2 * kSub) return index;
  const unsigned shift = static_cast<unsigned>(index >> kSubBits) - 1;
  return (kSub + (index & (kSub - 1))) << shift;
}

constexpr std::uint64_t width(std::size_t index) {
  if (index < 2 * kSub) return 1;
  return std::uint64_t{1} << (static_cast<unsigned>(index >> kSubBits) - 1);
}

constexpr std::size_t kFirst = raw_index(Histogram::kLowestNs);
constexpr std::size_t kLast = raw_index(Histogram::kHighestNs);

static_assert(lower_bound(raw_index(1'000'000)) <= 1'000'000);
static_assert(lower_bound(raw_index(1'000'000)) + width(raw_index(1'000'000)) > 1'000'000);

}  // namespace

Histogram::Histogram() : buckets_(kLast - kFirst + 1, 0) {}

void Histogram::record(std::uint64_t ns) {
  if (ns < kLowestNs) {
    ++below_;
    ns = kLowestNs;
  } else if (ns > kHighestNs) {
    ++above_;
    ns = kHighestNs;
  }
  ++buckets_[raw_index(ns) - kFirst];
  ++count_;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
  sum_ += static_cast<double>(ns);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  below_ += other.below_;
  above_ += other.above_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank. The factor keeps q * count from rounding up past an
  // integer it only misses by the last bit (0.9 * 10 is 9.000000000000002).
  const double exact = q * static_cast<double>(count_) * (1 - 1e-12);
  const std::uint64_t rank =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(exact)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const std::size_t index = i + kFirst;
      const double middle =
          static_cast<double>(lower_bound(index)) + static_cast<double>(width(index) - 1) / 2;
      // Every value lies within [min, max]: never report beyond them.
      return std::clamp(middle, static_cast<double>(min_), static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);  // unreachable: the buckets hold count_ values
}

}  // namespace trousseau::bench
