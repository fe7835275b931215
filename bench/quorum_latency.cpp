// Decrypt latency of k-of-3 over fake providers answering in 5, 50 and
// 500 ms (with 10% jitter), for both decrypt strategies, and the same with
// the fastest provider hung.
#include <cstdio>
#include <cstdlib>

#include "stats.hpp"
#include "support/engine_harness.hpp"

using namespace trousseau;
using namespace std::chrono_literals;

namespace {

void run(unsigned k, config::DecryptStrategy strategy, bool hang_fastest, int rounds) {
  testkit::PolicySpec spec;
  spec.threshold = k;
  spec.decrypt = strategy;
  spec.provider_timeout = 2s;
  spec.slots = {{"p5"}, {"p50"}, {"p500"}};
  spec.manual_time = false;  // a benchmark measures real time
  testkit::EngineHarness h(spec);
  Bytes seed(32, 1);
  auto enc = h.encrypt(seed, 3s);
  if (!enc.ok()) {
    std::fprintf(stderr, "encrypt: %s\n", enc.error().message().c_str());
    return;
  }
  h.fake("p5").script({.delay = 5ms, .jitter = 1ms});
  h.fake("p50").script({.delay = 50ms, .jitter = 5ms});
  h.fake("p500").script({.delay = 500ms, .jitter = 50ms});
  for (int i = 0; i < 5; ++i) h.probe_all();  // learn the latencies
  if (hang_fastest) h.fake("p5").script_unwrap({.hang = true});
  std::vector<double> samples;
  int failures = 0;
  for (int i = 0; i < rounds; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto plain = h.decrypt(enc->encoded, 3s);
    samples.push_back(bench::ms_since(t0));
    failures += plain.ok() && plain->equals(seed) ? 0 : 1;
  }
  auto p = bench::percentiles(samples);
  std::printf("| %u-of-3 | %-6s | %-13s | %7.1f | %7.1f | %7.1f | %7.1f | %d/%d |\n", k,
              strategy == config::DecryptStrategy::hedged ? "hedged" : "all",
              hang_fastest ? "5 ms one hung" : "all answer", p.p50, p.p90, p.p99, p.max, failures,
              rounds);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 40;
  std::printf("| policy | strategy | providers | p50 ms | p90 ms | p99 ms | max ms | failed |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (unsigned k = 1; k <= 3; ++k) {
    run(k, config::DecryptStrategy::hedged, false, rounds);
    run(k, config::DecryptStrategy::all, false, rounds);
  }
  run(1, config::DecryptStrategy::hedged, true, rounds);
  run(2, config::DecryptStrategy::hedged, true, rounds / 4);
}
