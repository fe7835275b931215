// trousseau-provider-bench's JSON report, in the load generator's shape
// (bench/loadgen/report.hpp) so that the two line up field for field.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

#include "direct_runner.hpp"

namespace trousseau::bench::direct {

/// What the report repeats of the command line and the config.
struct RunSettings {
  std::string provider;  ///< its name in the config
  std::string type;
  std::string op;  ///< "wrap" or "unwrap"
  std::size_t concurrency = 0;
  std::size_t io_threads = 0;
  std::uint64_t warmup = 0;
  std::int64_t timeout_ms = 0;
};

/// The measured phase: counts, errors by code name, throughput of
/// successful calls, and their latency in milliseconds.
boost::json::object run_report(const RunSettings& settings, const PhaseResult& measured);

}  // namespace trousseau::bench::direct
