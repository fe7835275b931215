// Percentiles of a set of latency samples.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace trousseau::bench {

struct Percentiles {
  double p50, p90, p99, max;
};

inline Percentiles percentiles(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[static_cast<std::size_t>(q * (ms.size() - 1))]; };
  return {at(0.50), at(0.90), at(0.99), ms.back()};
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace trousseau::bench
