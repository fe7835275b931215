// Shamir split and combine of a 32-byte key (envelope/shamir.hpp), k = n/2+1.
#include <benchmark/benchmark.h>

#include <vector>

#include "common/secret.hpp"
#include "envelope/aead.hpp"
#include "envelope/shamir.hpp"

namespace {

using namespace trousseau;

unsigned threshold_of(unsigned n) { return n / 2 + 1; }

/// Includes the n SecretBytes that hold the shares.
void shamir_split(benchmark::State& state) {
  const auto n = static_cast<unsigned>(state.range(0));
  const SecretBytes key = SecretBytes::random(aead::kKeySize);
  for (auto _ : state) {
    auto shares = shamir::split(key.view(), threshold_of(n), n);
    if (!shares.ok()) {
      state.SkipWithError(shares.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(shares->data());
  }
}

/// Any k of the n shares; the first k, as from the fastest providers.
void shamir_combine(benchmark::State& state) {
  const auto n = static_cast<unsigned>(state.range(0));
  const SecretBytes key = SecretBytes::random(aead::kKeySize);
  auto shares = shamir::split(key.view(), threshold_of(n), n);
  if (!shares.ok()) {
    state.SkipWithError(shares.error().message().c_str());
    return;
  }
  std::vector<const shamir::Share*> subset;
  for (unsigned i = 0; i < threshold_of(n); ++i) subset.push_back(&shares.value()[i]);
  auto check = shamir::combine(subset);
  if (!check.ok() || !check->equals(key.view())) {
    state.SkipWithError("shamir: k shares do not rebuild the key");
    return;
  }
  for (auto _ : state) {
    auto secret = shamir::combine(subset);
    benchmark::DoNotOptimize(secret);
  }
}

BENCHMARK(shamir_split)->Arg(3)->Arg(5)->Arg(16)->ArgName("n");
BENCHMARK(shamir_combine)->Arg(3)->Arg(5)->Arg(16)->ArgName("n");

}  // namespace
