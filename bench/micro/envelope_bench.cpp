// Sealing and opening an envelope the way a request does (the steps of
// quorum/encrypt_op.cpp and decrypt_op.cpp), with the providers taken out:
// each wrapped share is a ready-made blob, and each unwrapped share is the
// share itself. What remains is Trousseau's own work per request.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "envelope/aead.hpp"
#include "envelope/format.hpp"
#include "envelope/shamir.hpp"

namespace {

using namespace trousseau;

/// The size of a key-file provider's wrap of a 32-byte share: nonce,
/// ciphertext and tag.
constexpr std::size_t kWrappedSize = aead::kNonceSize + aead::kKeySize + aead::kTagSize;

/// A policy of n single-provider slots, k = n/2+1, and what each provider
/// "returned" for its wrap.
struct Policy {
  unsigned n = 0;
  unsigned k = 0;
  std::vector<std::string> providers;
  std::vector<Bytes> wrapped;
};

Policy make_policy(unsigned n) {
  Policy p{n, n / 2 + 1, {}, {}};
  for (unsigned i = 0; i < n; ++i) {
    p.providers.push_back("provider-" + std::to_string(i + 1));
    Bytes blob(kWrappedSize);
    random_fill(blob);
    p.wrapped.push_back(std::move(blob));
  }
  return p;
}

/// KMS v2 sends a 32-byte seed and allows a 1 KiB ciphertext (wrapped shares
/// that do not fit move to annotations); larger plaintexts only come through
/// v1beta1, which has no limit.
envelope::Limits limits_for(std::size_t plaintext_size) {
  if (plaintext_size <= 32) {
    return {envelope::kMaxV2Ciphertext, true, envelope::kMaxV2Annotations};
  }
  return {};
}

const char* api_for(std::size_t plaintext_size) { return plaintext_size <= 32 ? "v2" : "v1beta1"; }

struct Sealed {
  envelope::Encoded encoded;
  std::vector<shamir::Share> shares;  ///< kept as long as the request keeps them
};

/// Encrypt: copy the plaintext into secret memory, draw K and a nonce, split
/// K, compute each slot's share context (what a provider binds), lay out the
/// header, seal, encode.
Result<Sealed> seal_like_a_request(ByteView plaintext_in, const Policy& policy,
                                   const envelope::Limits& limits) {
  SecretBytes plaintext(plaintext_in);
  SecretBytes key = SecretBytes::random(aead::kKeySize);
  std::array<std::uint8_t, aead::kNonceSize> nonce{};
  random_fill(nonce);
  auto shares = shamir::split(key.view(), policy.k, policy.n);
  if (!shares.ok()) return shares.error();
  envelope::Envelope env;
  env.threshold = static_cast<std::uint8_t>(policy.k);
  env.nonce = nonce;
  std::vector<Bytes> contexts;
  for (unsigned i = 0; i < policy.n; ++i) {
    contexts.push_back(envelope::share_context(nonce, env.threshold, shares.value()[i].x));
    env.slots.push_back({shares.value()[i].x, {{policy.providers[i], "1", policy.wrapped[i]}}});
  }
  benchmark::DoNotOptimize(contexts.data());
  env.header_bytes = envelope::encode_header(env);
  auto sealed = aead::seal(key.view(), nonce, envelope::additional_data(env), plaintext.view());
  if (!sealed.ok()) return sealed.error();
  env.sealed = std::move(sealed.value());
  auto encoded = envelope::encode(env, limits);
  if (!encoded.ok()) return encoded.error();
  return Sealed{std::move(encoded.value()), std::move(shares.value())};
}

/// Decrypt: parse, compute the AAD and every slot's share context, take
/// the first k shares (each arrives in a SecretBytes, as a provider's unwrap
/// returns it), combine them, open.
Result<SecretBytes> open_like_a_request(const envelope::Encoded& encoded,
                                        const std::vector<shamir::Share>& unwrapped) {
  auto env = envelope::parse(encoded.ciphertext, encoded.annotations);
  if (!env.ok()) return env.error();
  const Bytes aad = envelope::additional_data(env.value());
  std::vector<Bytes> contexts;
  for (const envelope::Slot& slot : env->slots) {
    contexts.push_back(envelope::share_context(env->nonce, env->threshold, slot.x));
  }
  benchmark::DoNotOptimize(contexts.data());
  std::vector<shamir::Share> entries;
  for (std::size_t s = 0; s < std::size_t{env->threshold}; ++s) {
    entries.push_back({env->slots[s].x, SecretBytes(unwrapped[s].y.view())});
  }
  std::vector<const shamir::Share*> subset;
  for (const shamir::Share& e : entries) subset.push_back(&e);
  auto key = shamir::combine(subset);
  if (!key.ok()) return key.error();
  return aead::open(key->view(), env->nonce, aad, env->sealed);
}

Bytes random_plaintext(std::size_t size) {
  Bytes out(size);
  random_fill(out);
  return out;
}

void envelope_seal(benchmark::State& state) {
  const Policy policy = make_policy(static_cast<unsigned>(state.range(0)));
  const auto size = static_cast<std::size_t>(state.range(1));
  const Bytes plaintext = random_plaintext(size);
  const envelope::Limits limits = limits_for(size);
  for (auto _ : state) {
    auto sealed = seal_like_a_request(plaintext, policy, limits);
    if (!sealed.ok()) {
      state.SkipWithError(sealed.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(sealed->encoded.ciphertext.data());
  }
  state.SetLabel(api_for(size));
}

void envelope_open(benchmark::State& state) {
  const Policy policy = make_policy(static_cast<unsigned>(state.range(0)));
  const auto size = static_cast<std::size_t>(state.range(1));
  const Bytes plaintext = random_plaintext(size);
  auto sealed = seal_like_a_request(plaintext, policy, limits_for(size));
  if (!sealed.ok()) {
    state.SkipWithError(sealed.error().message().c_str());
    return;
  }
  auto check = open_like_a_request(sealed->encoded, sealed->shares);
  if (!check.ok() || !check->equals(plaintext)) {
    state.SkipWithError("envelope: the sealed envelope does not open to its plaintext");
    return;
  }
  for (auto _ : state) {
    auto opened = open_like_a_request(sealed->encoded, sealed->shares);
    if (!opened.ok()) {
      state.SkipWithError(opened.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(opened->data());
  }
  state.SetLabel(api_for(size));
}

/// envelope::parse alone, on a v2 envelope of a 32-byte seed.
void envelope_parse(benchmark::State& state) {
  const Policy policy = make_policy(static_cast<unsigned>(state.range(0)));
  const Bytes seed = random_plaintext(32);
  auto sealed = seal_like_a_request(seed, policy, limits_for(seed.size()));
  if (!sealed.ok()) {
    state.SkipWithError(sealed.error().message().c_str());
    return;
  }
  const envelope::Encoded& encoded = sealed->encoded;
  for (auto _ : state) {
    auto env = envelope::parse(encoded.ciphertext, encoded.annotations);
    if (!env.ok()) {
      state.SkipWithError(env.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(env->slots.data());
  }
  state.SetLabel("v2, " + std::to_string(encoded.ciphertext.size()) + " B ciphertext, " +
                 std::to_string(encoded.annotations.size()) + " shares in annotations");
}

BENCHMARK(envelope_seal)->ArgsProduct({{3, 5, 16}, {32, 4096}})->ArgNames({"n", "bytes"});
BENCHMARK(envelope_open)->ArgsProduct({{3, 5, 16}, {32, 4096}})->ArgNames({"n", "bytes"});
BENCHMARK(envelope_parse)->Arg(3)->Arg(16)->ArgName("n");

}  // namespace
