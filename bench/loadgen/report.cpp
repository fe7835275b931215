#include "report.hpp"

namespace trousseau::bench {

boost::json::object run_report(const RunSettings& settings, const PhaseResult& measured,
                               bool encrypt) {
  boost::json::object report;
  report["api"] = settings.api;
  report["op"] = settings.op;
  report["concurrency"] = settings.concurrency;
  report["channels"] = settings.channels;
  report["threads"] = settings.threads;
  report["warmup"] = settings.warmup;
  report["deadline_ms"] = settings.deadline_ms;
  report["think_ms"] = settings.think_ms;
  report["plaintext_size"] = settings.plaintext_size;
  if (settings.distinct > 0) report["distinct"] = settings.distinct;

  add_outcome(report, measured);

  if (encrypt) {
    report["mean_envelope_bytes"] =  // ciphertext plus v2 annotations
        measured.ok > 0
            ? static_cast<double>(measured.ciphertext_bytes) / static_cast<double>(measured.ok)
            : 0.0;
  }
  return report;
}

boost::json::object server_report(const ProcessSample& start, const ProcessSample& end,
                                  std::uint64_t calls) {
  boost::json::object server;
  const double cpu = cpu_seconds(start, end);
  server["cpu_seconds"] = cpu;
  server["cpu_us_per_request"] = calls > 0 ? cpu * 1e6 / static_cast<double>(calls) : 0.0;
  server["rss_start_kb"] = start.rss_kb;
  server["rss_end_kb"] = end.rss_kb;
  server["peak_rss_kb"] = end.peak_rss_kb;
  server["fds_start"] = start.fds;
  server["fds_end"] = end.fds;
  return server;
}

void write_call_log(std::ostream& out, const PhaseOptions& options, const PhaseResult& measured) {
  for (const CallRecord& r : measured.records) {
    out << options.uid_prefix << options.first_seq + r.index << ' ' << r.latency_ns << ' ' << r.code
        << '\n';
  }
}

}  // namespace trousseau::bench
