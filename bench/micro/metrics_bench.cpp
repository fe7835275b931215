// What recording costs on the request path (telemetry/metrics.hpp): one
// request's count and latency, and one provider call's, from 1 to 4 threads
// at once, against a relaxed atomic increment (the floor of any counter).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>

#include "telemetry/metrics.hpp"

namespace {

using namespace trousseau;
using namespace std::chrono_literals;

telemetry::Metrics& shared_metrics() {
  static telemetry::Metrics metrics("bench");
  return metrics;
}

void metrics_request_answered(benchmark::State& state) {
  telemetry::Metrics& m = shared_metrics();
  for (auto _ : state) {
    m.answered(kms::Api::v2, kms::Method::decrypt, grpc::StatusCode::OK, 850us);
  }
}

void metrics_provider_call(benchmark::State& state) {
  static auto observer = shared_metrics().provider_observer("kms-a");
  for (auto _ : state) {
    observer->call(quorum::CallKind::unwrap, quorum::CallOutcome::ok, 420us);
  }
}

void floor_atomic_increment(benchmark::State& state) {
  static std::atomic<std::uint64_t> counter{0};
  for (auto _ : state) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  benchmark::DoNotOptimize(counter.load());
}

}  // namespace

BENCHMARK(metrics_request_answered)->ThreadRange(1, 4);
BENCHMARK(metrics_provider_call)->ThreadRange(1, 4);
BENCHMARK(floor_atomic_increment)->ThreadRange(1, 4);
