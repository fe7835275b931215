// A decaying estimate of one provider's latency, used to rank providers and
// to decide when a call is slow enough to hedge.
#pragma once

#include <chrono>
#include <cmath>
#include <mutex>

namespace trousseau::quorum {

/// Exponentially weighted mean and mean absolute deviation. mean + 4 * dev is
/// our estimate of a high percentile (about p99 for a normal-ish
/// distribution) without keeping samples. Thread-safe.
class LatencyEstimator {
 public:
  using Duration = std::chrono::microseconds;

  void record(Duration sample) {
    std::lock_guard lock(mutex_);
    const double x = static_cast<double>(sample.count());
    if (samples_ == 0) {
      mean_ = x;
      dev_ = x / 2;
    } else {
      const double err = x - mean_;
      mean_ += kAlpha * err;
      dev_ += kAlpha * (std::abs(err) - dev_);
    }
    ++samples_;
  }

  bool known() const {
    std::lock_guard lock(mutex_);
    return samples_ > 0;
  }
  Duration mean() const {
    std::lock_guard lock(mutex_);
    return Duration(static_cast<Duration::rep>(mean_));
  }
  /// The delay after which a still-running call counts as slow.
  Duration high_percentile() const {
    std::lock_guard lock(mutex_);
    return Duration(static_cast<Duration::rep>(mean_ + 4 * dev_));
  }

 private:
  static constexpr double kAlpha = 0.2;  // about the last 10 samples dominate
  mutable std::mutex mutex_;
  double mean_ = 0;
  double dev_ = 0;
  long samples_ = 0;
};

}  // namespace trousseau::quorum
