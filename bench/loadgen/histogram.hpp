// Latencies in nanoseconds, in log-linear buckets (the HdrHistogram layout).
#pragma once

#include <cstdint>
#include <vector>

namespace trousseau::bench {

/// Counts values from 1 µs to 100 s in buckets whose width is at most
/// 1/128 of their lower bound: each power of two is cut into 128 equal
/// buckets. A value is reported as the middle of its bucket, so a
/// percentile is within 1/256 (0.4 %) of the sample of that rank.
///
/// A value beyond the range is recorded as the range's edge and counted in
/// below_range() or above_range(): it still takes part in count(),
/// percentiles, min, max and mean, at the edge.
///
/// Not thread-safe: each thread records into its own histogram, and the
/// owner merges them once the threads are done.
class Histogram {
 public:
  static constexpr std::uint64_t kLowestNs = 1'000;
  static constexpr std::uint64_t kHighestNs = 100'000'000'000;
  /// The largest relative distance between a recorded value and what
  /// percentile() reports for it.
  static constexpr double kRelativeError = 1.0 / 256;

  Histogram();

  void record(std::uint64_t ns);
  /// Adds every value recorded by `other`.
  void merge(const Histogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t below_range() const { return below_; }
  std::uint64_t above_range() const { return above_; }

  /// The value of rank ceil(q * count()) (at least 1) among the recorded
  /// values, within kRelativeError; q is clamped to [0, 1]. 0 when empty.
  double percentile(double q) const;
  /// Exact, after clamping to the range. 0 when empty.
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::uint64_t below_ = 0;
  std::uint64_t above_ = 0;
  std::uint64_t min_ = kHighestNs;
  std::uint64_t max_ = 0;
  double sum_ = 0;  // a sum of nanoseconds overflows 64 bits at 1e9 calls of 20 s
};

}  // namespace trousseau::bench
