// What every benchmark phase measures, and its part of a JSON report: the
// load generator and the provider-direct tool report it alike.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "histogram.hpp"

namespace trousseau::bench {

struct Outcome {
  std::uint64_t calls = 0;  ///< completed, whatever their status
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> errors;  ///< by status or Code name
  std::string first_error;                      ///< "CODE: message" of a failed call
  Histogram latency;                            ///< of the successful calls
  std::chrono::nanoseconds elapsed{};           ///< first start to last completion
};

/// Adds requests, ok, errors, first_error (if any), seconds, the throughput
/// of successful calls and latency_ms (p50, p90, p99, p99.9, max, mean and
/// beyond_range: values clamped to the histogram's 1 µs .. 100 s).
void add_outcome(boost::json::object& report, const Outcome& measured);

}  // namespace trousseau::bench
