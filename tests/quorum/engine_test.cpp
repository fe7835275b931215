#include "quorum/engine.hpp"

#include <gtest/gtest.h>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <thread>

#include "support/engine_harness.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::quorum {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::Behaviour;
using testing::EngineHarness;
using testing::PolicySpec;

const Bytes kSeed = to_bytes("0123456789abcdef0123456789abcdef");

PolicySpec three_slots(unsigned k, unsigned w = 0,
                       config::DecryptStrategy s = config::DecryptStrategy::hedged) {
  PolicySpec spec;
  spec.threshold = k;
  spec.min_encrypt_slots = w;
  spec.decrypt = s;
  spec.slots = {{"a"}, {"b"}, {"c"}};
  return spec;
}

template <typename F>
std::chrono::milliseconds timed(F&& f) {
  auto t0 = Clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Engine, TwoOfThreeRoundTrip) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  EXPECT_TRUE(enc->missing.empty());
  EXPECT_EQ(enc->key_id, h.engine().key_id());
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
  EXPECT_EQ(h.fake("a").wraps() + h.fake("b").wraps() + h.fake("c").wraps(), 3);
}

TEST(Engine, DecryptFinishesAtKthShareAndCancelsTheRest) {
  EngineHarness h(three_slots(2, 0, config::DecryptStrategy::all));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.delay = 5ms});
  h.fake("b").script_unwrap({.delay = 50ms});
  h.fake("c").script_unwrap({.hang = true});
  Result<SecretBytes> plain = Error(Code::internal, "not run");
  auto elapsed = timed([&] { plain = h.decrypt(enc->encoded); });
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
  EXPECT_LT(elapsed, 400ms);
  // The hung call was cancelled, not abandoned.
  for (int i = 0; i < 100 && h.fake("c").in_flight() > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(h.fake("c").in_flight(), 0);
  EXPECT_EQ(h.fake("c").cancelled(), 1);
}

TEST(Engine, HedgedDecryptAsksOnlyKProvidersWhenAllAreFast) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.probe_all();
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(h.fake("a").unwraps() + h.fake("b").unwraps() + h.fake("c").unwraps(), 2);
}

TEST(Engine, FailedProviderIsReplacedByTheNextOne) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.fail = Code::unavailable});
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
  EXPECT_EQ(h.fake("c").unwraps(), 1);
}

TEST(Engine, HungProviderDoesNotDelayQuorum) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  // Probes teach the engine that a is the fastest, so it is asked first.
  h.fake("a").script({.delay = 1ms});
  h.fake("b").script({.delay = 4ms});
  h.fake("c").script({.delay = 4ms});
  for (int i = 0; i < 3; ++i) h.probe_all();
  h.fake("a").script_unwrap({.hang = true});
  Result<SecretBytes> plain = Error(Code::internal, "not run");
  auto elapsed = timed([&] { plain = h.decrypt(enc->encoded, 2s); });
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  // Not the 1 s provider timeout, nor the 2 s deadline: a hedge.
  EXPECT_LT(elapsed, 300ms);
  EXPECT_GE(h.engine().counters().hedges, 1u);
}

TEST(Engine, QuorumLatencyFollowsTheKthFastestProvider) {
  // 5, 50 and 500 ms providers: 1-of-3 ~5 ms, 2-of-3 ~50 ms, 3-of-3 ~500 ms.
  // Generous bounds: this shows the shape; bench/ has the real figures.
  for (unsigned k = 1; k <= 3; ++k) {
    PolicySpec spec = three_slots(k);
    spec.provider_timeout = 2s;
    EngineHarness h(spec);
    auto enc = h.encrypt(kSeed, 3s);
    ASSERT_TRUE(enc.ok()) << enc.error().message();
    h.fake("a").script({.delay = 5ms});
    h.fake("b").script({.delay = 50ms});
    h.fake("c").script({.delay = 500ms});
    h.probe_all();
    h.probe_all();
    Result<SecretBytes> plain = Error(Code::internal, "not run");
    auto elapsed = timed([&] { plain = h.decrypt(enc->encoded, 3s); });
    ASSERT_TRUE(plain.ok()) << "k=" << k << ": " << plain.error().message();
    EXPECT_TRUE(plain->equals(kSeed));
    if (k == 1) {
      EXPECT_LT(elapsed, 45ms);
    }
    if (k == 2) {
      EXPECT_GE(elapsed, 45ms);
      EXPECT_LT(elapsed, 400ms);
    }
    if (k == 3) {
      EXPECT_GE(elapsed, 490ms);
      EXPECT_LT(elapsed, 1500ms);
    }
  }
}

TEST(Engine, BadShareIsIdentifiedAndRecovered) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  // a is the fastest, so its (wrong) share is among the first k.
  h.fake("a").script({.delay = 1ms, .garbage = true});
  h.fake("b").script({.delay = 4ms});
  h.fake("c").script({.delay = 4ms});
  for (int i = 0; i < 3; ++i) h.probe_all();
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
  EXPECT_EQ(h.fake("a").unwraps(), 1);
  EXPECT_EQ(h.fake("c").unwraps() + h.fake("b").unwraps(), 2);
  EXPECT_EQ(h.engine().counters().bad_shares, 1u);
}

TEST(Engine, TwoBadSharesOfThreeNeverYieldAPlaintext) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.garbage = true});
  h.fake("b").script_unwrap({.garbage = true});
  auto plain = h.decrypt(enc->encoded);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_TRUE(contains(plain.error().message(), "do not rebuild a key"));
}

TEST(Engine, EncryptDegradedWhenOneSlotDownAboveMinimum) {
  EngineHarness h(three_slots(2, 2));
  h.fake("c").script_wrap({.fail = Code::unavailable});
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  EXPECT_EQ(enc->missing, std::vector<std::string>{"c"});
  EXPECT_EQ(h.engine().counters().degraded_encrypts, 1u);
  EXPECT_TRUE(h.engine().rotation().degraded);
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->equals(kSeed));
}

TEST(Engine, EncryptFailsBelowMinimumNamingEveryProvider) {
  EngineHarness h(three_slots(2, 3));
  h.fake("b").script_wrap({.fail = Code::unavailable});
  h.fake("c").script_wrap({.fail = Code::permission_denied});
  auto enc = h.encrypt(kSeed);
  ASSERT_FALSE(enc.ok());
  EXPECT_EQ(enc.error().code(), Code::unavailable);
  EXPECT_TRUE(contains(enc.error().message(), "[b]"));
  EXPECT_TRUE(contains(enc.error().message(), "[c]"));
  EXPECT_TRUE(contains(enc.error().message(), "1 of the 3 slots"));
}

TEST(Engine, HungProviderDoesNotHoldAWriteThatReachedTheMinimum) {
  PolicySpec spec = three_slots(2, 2);
  spec.encrypt_grace = 50ms;
  EngineHarness h(spec);
  h.fake("c").script_wrap({.hang = true});
  Result<EncryptOutcome> enc = Error(Code::internal, "not run");
  auto elapsed = timed([&] { enc = h.encrypt(kSeed, 2s); });
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  EXPECT_LT(elapsed, 500ms);
  EXPECT_EQ(enc->missing, std::vector<std::string>{"c"});
}

TEST(Engine, KeyIdRotatesOnceAfterADegradedWriteWhenProvidersRecover) {
  testing::TempDir dir;
  PolicySpec spec = three_slots(2, 2);
  spec.state_path = dir.file("state.json");
  std::string before, after;
  {
    EngineHarness h(spec);
    before = h.engine().key_id();
    h.fake("c").script_wrap({.fail = Code::unavailable});
    h.fake("c").script_probe({.fail = Code::unavailable});
    ASSERT_TRUE(h.encrypt(kSeed).ok());
    h.probe_all();  // c still down: no rotation yet
    EXPECT_EQ(h.engine().key_id(), before);
    h.fake("c").script({});
    h.probe_all();  // everyone healthy: a fresh key_id
    after = h.engine().key_id();
    EXPECT_NE(after, before);
    h.probe_all();  // and it stays
    EXPECT_EQ(h.engine().key_id(), after);
    EXPECT_FALSE(h.engine().rotation().degraded);
  }
  ASSERT_TRUE(std::filesystem::exists(spec.state_path));
  EngineHarness restarted(spec);  // the generation survives a restart
  EXPECT_EQ(restarted.engine().rotation().generation, 1u);
}

TEST(Engine, KeyIdDoesNotFlipFlopWithHealth) {
  EngineHarness h(three_slots(2));
  const std::string id = h.engine().key_id();
  h.fake("a").flip_flop_probe(Code::unavailable);
  for (int i = 0; i < 6; ++i) {
    h.probe_all();
    EXPECT_EQ(h.engine().key_id(), id);
  }
}

TEST(Engine, KeyIdChangesWhenAProviderKeyChanges) {
  EngineHarness h(three_slots(2));
  const std::string id = h.engine().key_id();
  h.fake("b").set_key_identity("fake:b:v2");
  EXPECT_NE(h.engine().key_id(), id);
  EXPECT_EQ(h.engine().key_id().rfind("trousseau-", 0), 0u);
}

TEST(Engine, StatusUnhealthyWhenQuorumUnreachable) {
  EngineHarness h(three_slots(2, 2));
  h.probe_all();
  EXPECT_TRUE(h.engine().status().healthy);
  h.fake("a").script_probe({.fail = Code::unavailable});
  h.probe_all();
  EXPECT_TRUE(h.engine().status().healthy);  // 2 of 3 slots still healthy
  h.fake("b").script_probe({.fail = Code::unavailable});
  h.probe_all();
  Status s = h.engine().status();
  EXPECT_FALSE(s.healthy);
  EXPECT_TRUE(contains(s.detail, "a:"));
  EXPECT_TRUE(contains(s.detail, "b:"));
  h.fake("a").script_probe({});
  h.probe_all();
  EXPECT_TRUE(h.engine().status().healthy);
}

TEST(Engine, StatusNeedsTheEncryptMinimumNotJustTheThreshold) {
  EngineHarness h(three_slots(1, 3));
  h.fake("c").script_probe({.fail = Code::unavailable});
  h.probe_all();
  EXPECT_FALSE(h.engine().status().healthy);
}

TEST(Engine, RequestEndsAtDeadline) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  for (auto n : {"a", "b", "c"}) h.fake(n).script_unwrap({.hang = true});
  Result<SecretBytes> plain = SecretBytes();
  auto elapsed = timed([&] { plain = h.decrypt(enc->encoded, 150ms); });
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::deadline_exceeded);
  EXPECT_GE(elapsed, 140ms);
  EXPECT_LT(elapsed, 1000ms);
  for (int i = 0; i < 100; ++i) {
    if (h.fake("a").in_flight() + h.fake("b").in_flight() + h.fake("c").in_flight() == 0) break;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(h.fake("a").in_flight() + h.fake("b").in_flight() + h.fake("c").in_flight(), 0);
}

TEST(Engine, ProviderTimeoutFreesTheSlotForAnother) {
  PolicySpec spec = three_slots(1);
  spec.provider_timeout = 50ms;
  spec.min_hedge_delay = 1000ms;  // no hedging: only the timeout can help
  EngineHarness h(spec);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.hang = true});
  auto plain = h.decrypt(enc->encoded, 2s);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
}

TEST(Engine, CallerCancellationStopsEveryProviderCall) {
  EngineHarness h(three_slots(2, 0, config::DecryptStrategy::all));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  for (auto n : {"a", "b", "c"}) h.fake(n).script_unwrap({.hang = true});
  Strand strand = h.engine().make_strand();
  asio::cancellation_signal signal;
  auto fut = h.decrypt_async(enc->encoded, 5s, strand, signal.slot());
  std::this_thread::sleep_for(30ms);
  asio::post(strand, [&] { signal.emit(asio::cancellation_type::terminal); });
  auto plain = fut.get();
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::cancelled);
  for (int i = 0; i < 100; ++i) {
    if (h.fake("a").cancelled() + h.fake("b").cancelled() + h.fake("c").cancelled() == 3) break;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(h.fake("a").cancelled() + h.fake("b").cancelled() + h.fake("c").cancelled(), 3);
}

TEST(Engine, TamperedEnvelopeIsInvalidArgument) {
  EngineHarness h(three_slots(2));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  for (std::size_t i = 0; i < enc->encoded.ciphertext.size(); i += 7) {
    envelope::Encoded bad = enc->encoded;
    bad.ciphertext[i] ^= 0x20;
    auto plain = h.decrypt(bad);
    ASSERT_FALSE(plain.ok()) << "byte " << i;
    EXPECT_EQ(plain.error().code(), Code::invalid_argument) << "byte " << i << ": "
                                                            << plain.error().message();
  }
}

TEST(Engine, UnknownProviderInEnvelopeIsUnavailable) {
  EngineHarness writer(three_slots(3));
  auto enc = writer.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  PolicySpec other;
  other.threshold = 1;
  other.slots = {{"x"}};
  EngineHarness reader(other);
  auto plain = reader.decrypt(enc->encoded);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::unavailable);
  EXPECT_TRUE(contains(plain.error().message(), "not in the current configuration"));
}

TEST(Engine, RedundantProvidersInASlotBackEachOtherUp) {
  PolicySpec spec;
  spec.threshold = 1;
  spec.slots = {{"east", "west"}};
  EngineHarness h(spec);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("east").script_unwrap({.fail = Code::unavailable});
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(h.fake("west").unwraps(), 1);
}

TEST(Engine, CircuitOpenProviderIsSkipped) {
  EngineHarness h(three_slots(1, 1));
  h.fake("a").script({.fail = Code::unavailable});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.encrypt(kSeed).ok());
  EXPECT_FALSE(h.managed("a").healthy());
  const int calls = h.fake("a").wraps();
  ASSERT_TRUE(h.encrypt(kSeed).ok());
  EXPECT_EQ(h.fake("a").wraps(), calls);  // not asked while open
  std::this_thread::sleep_for(250ms);     // breaker_backoff is 200 ms in the harness
  h.fake("a").script({});
  ASSERT_TRUE(h.encrypt(kSeed).ok());
  EXPECT_EQ(h.fake("a").wraps(), calls + 1);  // the trial call
  EXPECT_TRUE(h.managed("a").healthy());
}

TEST(Engine, OverloadedProviderRejectsWithResourceExhausted) {
  PolicySpec spec;
  spec.threshold = 1;
  spec.slots = {{"a"}};
  spec.max_inflight = 1;
  spec.max_queue = 1;
  EngineHarness h(spec);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.delay = 300ms});
  auto first = h.decrypt_async(enc->encoded, 2s, h.engine().make_strand());
  std::this_thread::sleep_for(20ms);
  auto second = h.decrypt_async(enc->encoded, 2s, h.engine().make_strand());  // queued
  std::this_thread::sleep_for(20ms);
  auto third = h.decrypt(enc->encoded);  // no room
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code(), Code::resource_exhausted);
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(second.get().ok());
}

TEST(Engine, EnvelopeFitsKubernetesLimitsWithEightSlots) {
  PolicySpec spec;
  spec.threshold = 5;
  for (int i = 0; i < 8; ++i) spec.slots.push_back({"provider-number-" + std::to_string(i)});
  EngineHarness h(spec);
  envelope::Limits v2{envelope::kMaxV2Ciphertext, true, envelope::kMaxV2Annotations};
  auto enc = h.encrypt(kSeed, 2s, v2);
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  EXPECT_LE(enc->encoded.ciphertext.size(), envelope::kMaxV2Ciphertext);
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
}

}  // namespace
}  // namespace trousseau::quorum
