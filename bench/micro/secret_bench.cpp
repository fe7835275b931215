// The cost of a buffer for a secret: SecretBytes beside the raw sodium_malloc
// it started from and a plain heap array, on one thread and on two at once
// (requests allocate secrets concurrently on the gRPC threads).
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <cstdint>

#include "common/secret.hpp"

namespace {

using namespace trousseau;

void memory_secret_bytes(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    SecretBytes secret(size);
    benchmark::DoNotOptimize(secret.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void memory_sodium_malloc(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  if (sodium_init() < 0) {
    state.SkipWithError("sodium_init failed");
    return;
  }
  for (auto _ : state) {
    void* p = sodium_malloc(size);
    if (p == nullptr) {
      state.SkipWithError("sodium_malloc failed");
      break;
    }
    benchmark::DoNotOptimize(p);
    sodium_free(p);
  }
  state.SetItemsProcessed(state.iterations());
}

/// No zeroing, no wiping, no locking: the floor.
void memory_new_array(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto* p = new std::uint8_t[size];
    benchmark::DoNotOptimize(p);
    delete[] p;
  }
  state.SetItemsProcessed(state.iterations());
}

/// Wall-clock time, so that two threads contending on a lock show it.
void memory_cases(benchmark::internal::Benchmark* b) {
  b->Arg(32)->Arg(4096)->ArgName("bytes")->Threads(1)->Threads(2)->UseRealTime();
}

BENCHMARK(memory_secret_bytes)->Apply(memory_cases);
BENCHMARK(memory_sodium_malloc)->Apply(memory_cases);
BENCHMARK(memory_new_array)->Apply(memory_cases);

}  // namespace
