#include "direct_report.hpp"

namespace trousseau::bench::direct {

namespace {

double ms(double ns) { return ns / 1e6; }

}  // namespace

boost::json::object run_report(const RunSettings& settings, const PhaseResult& measured) {
  boost::json::object report;
  report["provider"] = settings.provider;
  report["type"] = settings.type;
  report["op"] = settings.op;
  report["concurrency"] = settings.concurrency;
  report["io_threads"] = settings.io_threads;
  report["warmup"] = settings.warmup;
  report["timeout_ms"] = settings.timeout_ms;

  report["requests"] = measured.calls;
  report["ok"] = measured.ok;
  boost::json::object errors;
  for (const auto& [code, n] : measured.errors) errors[code] = n;
  report["errors"] = std::move(errors);
  if (!measured.first_error.empty()) report["first_error"] = measured.first_error;

  const double seconds = std::chrono::duration<double>(measured.elapsed).count();
  report["seconds"] = seconds;
  report["throughput_per_second"] = seconds > 0 ? static_cast<double>(measured.ok) / seconds : 0.0;

  const Histogram& h = measured.latency;
  boost::json::object latency;
  latency["p50"] = ms(h.percentile(0.50));
  latency["p90"] = ms(h.percentile(0.90));
  latency["p99"] = ms(h.percentile(0.99));
  latency["p99.9"] = ms(h.percentile(0.999));
  latency["max"] = ms(static_cast<double>(h.max()));
  latency["mean"] = ms(h.mean());
  latency["beyond_range"] = h.below_range() + h.above_range();  // clamped to 1 µs .. 100 s
  report["latency_ms"] = std::move(latency);
  return report;
}

}  // namespace trousseau::bench::direct
