#include "outcome.hpp"

namespace trousseau::bench {

namespace {
double ms(double ns) { return ns / 1e6; }
}  // namespace

void add_outcome(boost::json::object& report, const Outcome& measured) {
  report["requests"] = measured.calls;
  report["ok"] = measured.ok;
  boost::json::object errors;
  for (const auto& [name, n] : measured.errors) errors[name] = n;
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
  latency["beyond_range"] = h.below_range() + h.above_range();
  report["latency_ms"] = std::move(latency);
}

}  // namespace trousseau::bench
