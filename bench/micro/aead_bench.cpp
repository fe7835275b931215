// AES-256-GCM seal and open (envelope/aead.hpp) at a DEK seed, a typical
// v1beta1 secret and the largest plaintext the envelope accepts.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>

#include "common/bytes.hpp"
#include "common/secret.hpp"
#include "envelope/aead.hpp"

namespace {

using namespace trousseau;

/// About the additional data of a three-slot envelope: its header and the
/// digest of its wrapped shares.
constexpr std::size_t kAadSize = 128;

Bytes random_bytes(std::size_t size) {
  Bytes out(size);
  random_fill(out);
  return out;
}

void set_counter(std::array<std::uint8_t, aead::kNonceSize>& nonce, std::uint64_t counter) {
  for (std::size_t i = 0; i < 8; ++i) nonce[nonce.size() - 1 - i] = static_cast<std::uint8_t>(counter >> (8 * i));
}

void aead_seal(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const SecretBytes key = SecretBytes::random(aead::kKeySize);
  const Bytes aad = random_bytes(kAadSize);
  const Bytes plaintext = random_bytes(size);
  std::array<std::uint8_t, aead::kNonceSize> nonce{};
  std::uint64_t counter = 0;
  for (auto _ : state) {
    // A fresh nonce for every seal, as aead.hpp requires, even here.
    set_counter(nonce, ++counter);
    auto sealed = aead::seal(key.view(), nonce, aad, plaintext);
    if (!sealed.ok()) {
      state.SkipWithError(sealed.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(sealed->data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

/// Includes the SecretBytes that open() returns the plaintext in.
void aead_open(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const SecretBytes key = SecretBytes::random(aead::kKeySize);
  const Bytes aad = random_bytes(kAadSize);
  const Bytes plaintext = random_bytes(size);
  std::array<std::uint8_t, aead::kNonceSize> nonce{};
  random_fill(nonce);
  auto sealed = aead::seal(key.view(), nonce, aad, plaintext);
  if (!sealed.ok()) {
    state.SkipWithError(sealed.error().message().c_str());
    return;
  }
  for (auto _ : state) {
    auto opened = aead::open(key.view(), nonce, aad, sealed.value());
    if (!opened.ok()) {
      state.SkipWithError(opened.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(opened->data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

BENCHMARK(aead_seal)->Arg(32)->Arg(4096)->Arg(64 * 1024)->ArgName("bytes");
BENCHMARK(aead_open)->Arg(32)->Arg(4096)->Arg(64 * 1024)->ArgName("bytes");

}  // namespace
