// The load generator's JSON report.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <ostream>
#include <string>

#include "proc_stats.hpp"
#include "runner.hpp"

namespace trousseau::bench {

/// What the report repeats of the command line.
struct RunSettings {
  std::string api;
  std::string op;
  std::size_t concurrency = 0;
  std::size_t channels = 0;
  std::size_t threads = 0;
  std::size_t plaintext_size = 0;
  std::uint64_t warmup = 0;
  std::uint64_t distinct = 0;
  std::int64_t deadline_ms = 0;
  double think_ms = 0;
};

/// The measured phase: counts, errors by status code name, throughput of
/// successful calls, and their latency in milliseconds. With `encrypt`,
/// the mean size of the ciphertexts returned.
boost::json::object run_report(const RunSettings& settings, const PhaseResult& measured,
                               bool encrypt);

/// The server's CPU, memory and descriptors over `calls` measured calls.
boost::json::object server_report(const ProcessSample& start, const ProcessSample& end,
                                  std::uint64_t calls);

/// One line per call of `measured`: "uid latency_ns status_code".
void write_call_log(std::ostream& out, const PhaseOptions& options, const PhaseResult& measured);

}  // namespace trousseau::bench
