#include "direct_report.hpp"

namespace trousseau::bench::direct {

boost::json::object run_report(const RunSettings& settings, const PhaseResult& measured) {
  boost::json::object report;
  report["provider"] = settings.provider;
  report["type"] = settings.type;
  report["op"] = settings.op;
  report["concurrency"] = settings.concurrency;
  report["io_threads"] = settings.io_threads;
  report["warmup"] = settings.warmup;
  report["timeout_ms"] = settings.timeout_ms;

  add_outcome(report, measured);
  return report;
}

}  // namespace trousseau::bench::direct
