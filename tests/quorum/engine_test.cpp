#include "quorum/engine.hpp"

#include <gtest/gtest.h>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <filesystem>
#include <thread>

#include "common/caller_executor.hpp"
#include "common/log.hpp"
#include "envelope/aead.hpp"
#include "envelope/shamir.hpp"
#include "support/call_options.hpp"
#include "support/engine_harness.hpp"
#include "support/text.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::quorum {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testkit::Behaviour;
using testkit::contains;
using testkit::EngineHarness;
using testkit::kStepping;
using testkit::PolicySpec;

const Bytes kSeed = to_bytes("0123456789abcdef0123456789abcdef");

// Every test runs on manual time; `kStepping` harnesses run no threads, so
// the test decides what happens at each instant.

PolicySpec three_slots(unsigned k, unsigned w = 0,
                       config::DecryptStrategy s = config::DecryptStrategy::hedged) {
  PolicySpec spec;
  spec.threshold = k;
  spec.min_encrypt_slots = w;
  spec.decrypt = s;
  spec.slots = {{"a"}, {"b"}, {"c"}};
  return spec;
}

/// Teaches the engine each provider's latency through probes that take
/// exactly that long (on manual time).
void teach_latency(EngineHarness& h, const std::vector<std::pair<std::string, Clock::duration>>& l) {
  for (const auto& [name, d] : l) {
    h.fake(name).script_probe({.delay = std::chrono::duration_cast<std::chrono::milliseconds>(d)});
  }
  for (int i = 0; i < 3; ++i) h.probe_all();
}

TEST(Engine, EveryProviderCallCarriesItsRequestId) {
  EngineHarness h(three_slots(2, 0, config::DecryptStrategy::all));
  h.request_id = "write-1";
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  h.request_id = "read-1";
  ASSERT_TRUE(h.decrypt(enc->encoded).ok());
  for (const char* name : {"a", "b", "c"}) {
    // One wrap and one unwrap each; probes (no request) carry no id.
    EXPECT_EQ(h.fake(name).wraps(), 1) << name;
    EXPECT_EQ(h.fake(name).unwraps(), 1) << name;
    std::vector<std::string> ids = h.fake(name).request_ids();
    std::erase(ids, std::string());
    EXPECT_EQ(ids, (std::vector<std::string>{"write-1", "read-1"})) << name;
  }
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
  EngineHarness h(three_slots(2, 0, config::DecryptStrategy::all), kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.delay = 5ms});
  h.fake("b").script_unwrap({.delay = 50ms});
  h.fake("c").script_unwrap({.hang = true});
  const auto start = Clock::now();
  auto pending = h.decrypt_async(enc->encoded);
  h.step(50ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
  EXPECT_EQ(pending.took(start), 50ms);  // the 2nd fastest, not the deadline
  // The hung call was cancelled, not abandoned.
  h.settle();
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
  EngineHarness h(three_slots(2), kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  // Probes teach the engine that a is the fastest, so it is asked first.
  teach_latency(h, {{"a", 1ms}, {"b", 4ms}, {"c", 4ms}});
  h.fake("b").script_unwrap({.delay = 4ms});
  h.fake("c").script_unwrap({.delay = 4ms});
  h.fake("a").script_unwrap({.hang = true});
  const auto start = Clock::now();
  auto pending = h.decrypt_async(enc->encoded, 2s);
  h.step(50ms);
  ASSERT_TRUE(h.wait(pending)) << "not answered within 50ms of manual time";
  auto plain = pending.result.get();
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  // Not the 1 s provider timeout, nor the 2 s deadline: a hedge.
  EXPECT_LT(pending.took(start), 50ms);
  EXPECT_GE(h.engine().counters().hedges, 1u);
}

TEST(Engine, QuorumLatencyFollowsTheKthFastestProvider) {
  // 5, 50 and 500 ms providers: k-of-3 answers exactly when the k-th
  // fastest does (bench/ has real-time figures).
  const Clock::duration expected[] = {5ms, 50ms, 500ms};
  for (unsigned k = 1; k <= 3; ++k) {
    PolicySpec spec = three_slots(k);
    spec.provider_timeout = 2s;
    EngineHarness h(spec, kStepping);
    auto enc = h.encrypt(kSeed, 3s);
    ASSERT_TRUE(enc.ok()) << enc.error().message();
    h.fake("a").script({.delay = 5ms});
    h.fake("b").script({.delay = 50ms});
    h.fake("c").script({.delay = 500ms});
    h.probe_all();
    h.probe_all();
    const auto start = Clock::now();
    auto pending = h.decrypt_async(enc->encoded, 3s);
    h.step(600ms);
    ASSERT_TRUE(h.wait(pending));
    auto plain = pending.result.get();
    ASSERT_TRUE(plain.ok()) << "k=" << k << ": " << plain.error().message();
    EXPECT_TRUE(plain->equals(kSeed));
    EXPECT_EQ(pending.took(start), expected[k - 1]) << "k=" << k;
  }
}

TEST(Engine, BadShareIsIdentifiedAndRecovered) {
  EngineHarness h(three_slots(2), kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  // a is the fastest, so its (wrong) share is among the first k.
  teach_latency(h, {{"a", 1ms}, {"b", 4ms}, {"c", 4ms}});
  h.fake("a").script_unwrap({.delay = 1ms, .garbage = true});
  h.fake("b").script_unwrap({.delay = 4ms});
  h.fake("c").script_unwrap({.delay = 4ms});
  auto pending = h.decrypt_async(enc->encoded);
  h.step(100ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
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
  EXPECT_TRUE(h.engine().write_state().degraded());
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
  EngineHarness h(spec, kStepping);
  h.fake("c").script_wrap({.hang = true});
  const auto start = Clock::now();
  auto pending = h.encrypt_async(kSeed, 2s);
  h.step(60ms);
  ASSERT_TRUE(h.wait(pending));
  auto enc = pending.result.get();
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  EXPECT_EQ(pending.took(start), 50ms);  // the grace, not the deadline
  EXPECT_EQ(enc->missing, std::vector<std::string>{"c"});
}

TEST(Engine, EncryptWipesKeySharesAndPlaintextWhenItAnswersNotWhenStragglersDrain) {
  PolicySpec spec = three_slots(2, 2);
  spec.encrypt_grace = 10ms;
  EngineHarness h(spec, kStepping);
  h.fake("c").script_wrap({.hang = true});
  const std::size_t before = SecretBytes::live();
  auto pending = h.encrypt_async(kSeed, 2s);
  h.settle();
  ASSERT_GT(SecretBytes::live(), before);  // K and the shares, while it works
  h.advance(10ms);
  ASSERT_TRUE(h.wait(pending));
  ASSERT_TRUE(pending.result.get().ok());
  // At the answer the straggler's cancellation has not even been delivered:
  // the operation is still alive, and must hold no secret any more.
  EXPECT_EQ(pending.secrets_at_answer->load(), before);
}

// A degraded write's key_id names what it missed, so apiserver stores the
// envelope under a key_id that no complete write reports; once the missing
// provider is healthy, key_id is that of complete writes again and the
// envelope is stale. The state survives a restart of the plugin.
TEST(Engine, ADegradedWriteHasItsOwnKeyIdUntilTheMissingProviderRecovers) {
  testkit::TempDir dir;
  PolicySpec spec = three_slots(2, 2);
  spec.state_path = dir.file("state.json");
  std::string complete, degraded;
  {
    EngineHarness h(spec);
    complete = h.engine().key_id();
    h.fake("c").script_wrap({.fail = Code::unavailable});
    h.fake("c").script_probe({.fail = Code::unavailable});
    auto enc = h.encrypt(kSeed);
    ASSERT_TRUE(enc.ok()) << enc.error().message();
    degraded = enc->key_id;
    EXPECT_NE(degraded, complete);
    EXPECT_EQ(h.engine().key_id(), degraded);  // Status agrees with the write
    h.probe_all();                              // c still down
    EXPECT_EQ(h.engine().key_id(), degraded);
    h.fake("b").script_probe({.fail = Code::unavailable});
    h.fake("c").script({});
    h.probe_all();  // c back: b's outage has missed no write, so it does not count
    EXPECT_EQ(h.engine().key_id(), complete);
    EXPECT_FALSE(h.engine().write_state().degraded());
    h.probe_all();  // and it stays
    EXPECT_EQ(h.engine().key_id(), complete);
  }
  {
    EngineHarness h(spec);  // the healed state survives a restart
    EXPECT_EQ(h.engine().key_id(), complete);
  }
  {
    EngineHarness h(spec);
    h.fake("c").script_wrap({.fail = Code::unavailable});
    ASSERT_TRUE(h.encrypt(kSeed).ok());
  }
  EngineHarness restarted(spec);  // and so does the degraded one, before any probe
  EXPECT_EQ(restarted.engine().key_id(), degraded);
  EXPECT_EQ(restarted.engine().write_state().missing, std::set<std::string>{"c"});
  // A provider counts as healthy until its first probe; that is no sign
  // that c is back. Only a probe that reaches it is.
  restarted.engine().on_health_changed();
  EXPECT_EQ(restarted.engine().key_id(), degraded);
  restarted.fake("c").script_probe({.fail = Code::unavailable});
  restarted.probe_all();
  EXPECT_EQ(restarted.engine().key_id(), degraded);
  restarted.fake("c").script({});
  restarted.probe_all();
  EXPECT_EQ(restarted.engine().key_id(), complete);
}

// A probe already on its way when the outage began may answer "healthy"
// after the write that missed the provider: it proves nothing about the
// provider since, and must not clear the write state (found under TSan's
// slowness by reliability_plugin_crash).
TEST(Engine, OnlyAProbeStartedAfterTheDegradedWriteProvesTheProviderBack) {
  EngineHarness h(three_slots(2, 2));
  const std::string complete = h.engine().key_id();
  h.fake("c").script_wrap({.fail = Code::unavailable});
  h.advance(50ms);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  // Started 20 ms ago, before the write; answered healthy just now.
  h.managed("c").record_probe(Error(), 20ms);
  h.engine().on_health_changed();
  EXPECT_EQ(h.engine().key_id(), enc->key_id);
  h.advance(1ms);
  h.managed("c").record_probe(Error(), 0ms);  // started after the write
  h.engine().on_health_changed();
  EXPECT_EQ(h.engine().key_id(), complete);
}

// The HA property: key_id is a function of the configuration and what the
// KMSes say, never of one node's history. Two engines stand for two nodes;
// only the first lives through an outage of c.
TEST(Engine, TwoNodesAgreeOnKeyIdWhateverEachLivedThrough) {
  testkit::TempDir dir;
  PolicySpec one = three_slots(2, 2), two = three_slots(2, 2);
  one.state_path = dir.file("one/state.json");
  two.state_path = dir.file("two/state.json");
  EngineHarness a(one), b(two);
  ASSERT_EQ(a.engine().key_id(), b.engine().key_id());
  a.fake("c").script_wrap({.fail = Code::unavailable});
  a.fake("c").script_probe({.fail = Code::unavailable});
  auto enc = a.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  auto full = b.encrypt(kSeed);
  ASSERT_TRUE(full.ok());
  EXPECT_NE(enc->key_id, full->key_id);  // b sees a's envelope as stale
  EXPECT_EQ(full->key_id, b.engine().key_id());
  a.fake("c").script({});
  a.probe_all();
  b.probe_all();
  EXPECT_EQ(a.engine().key_id(), b.engine().key_id());
  EXPECT_NE(a.engine().key_id(), enc->key_id);  // a sees it as stale too
  // An identical outage on both gives both the same degraded key_id.
  b.fake("c").script_wrap({.fail = Code::unavailable});
  a.fake("c").script_wrap({.fail = Code::unavailable});
  auto again_a = a.encrypt(kSeed), again_b = b.encrypt(kSeed);
  ASSERT_TRUE(again_a.ok() && again_b.ok());
  EXPECT_EQ(again_a->key_id, again_b->key_id);
  EXPECT_EQ(again_a->key_id, enc->key_id);
}

// A provider missing from a later configuration cannot hold key_id
// degraded forever.
TEST(Engine, ANameTheConfigurationNoLongerHasIsDroppedFromTheState) {
  testkit::TempDir dir;
  PolicySpec spec = three_slots(2, 2);
  spec.state_path = dir.file("state.json");
  WriteState old;
  old.missing = {"gone"};
  ASSERT_TRUE(save_write_state(spec.state_path, old).ok());
  EngineHarness fresh(three_slots(2, 2));
  EngineHarness h(spec);
  EXPECT_FALSE(h.engine().write_state().degraded());
  EXPECT_EQ(h.engine().key_id(), fresh.engine().key_id());
}

// A degraded write must carry a key_id that names what it missed. If a
// probe that finds everyone healthy again lands between recording the
// degraded write and reading the key_id, the envelope would be labelled
// with the complete writes' key_id, and apiserver would never rewrite it.
// Probes race writes here on real threads; after every write, the
// recovery that follows must move key_id away from the write's. The window
// is a few instructions wide: with key_id read under a second lock, about
// one write in a thousand came out stale, so 3000 writes catch it in most
// runs.
TEST(Engine, ADegradedWriteKeepsItsKeyIdWhenARecoveryProbeRacesIt) {
  EngineHarness h(three_slots(2, 2), /*threads=*/2);
  const std::string complete = h.engine().key_id();
  h.fake("c").script_wrap({.fail = Code::unavailable});  // wraps fail, probes pass
  log::set_level(log::Level::error);                      // hundreds of recoveries
  std::atomic<bool> stop{false};
  // What the health monitor does after a probe finds c healthy.
  auto recovery_probe = [&] {
    h.managed("c").record_probe(Error(), Clock::duration::zero());
    h.engine().on_health_changed();
  };
  std::thread prober([&] {
    while (!stop.load()) recovery_probe();
  });
  int stale = 0;
  for (int i = 0; i < 3000 && stale == 0; ++i) {
    auto enc = h.encrypt(kSeed);
    ASSERT_TRUE(enc.ok()) << enc.error().message();
    ASSERT_EQ(enc->missing, std::vector<std::string>{"c"});
    recovery_probe();  // whatever the race did, this write's recovery is done now
    ASSERT_FALSE(h.engine().write_state().degraded());
    if (enc->key_id == complete) ++stale;
  }
  stop = true;
  prober.join();
  log::set_level(log::Level::info);
  EXPECT_EQ(stale, 0) << "degraded writes labelled with the complete writes' key_id";
}

// The state file is fsynced twice per write; a slow disk must not hold a
// request strand (or the answer). The write waits on a writer the test
// does not run until the request has answered.
TEST(Engine, ADegradedWriteAnswersWithoutWaitingForItsStateToReachTheDisk) {
  testkit::TempDir dir;
  boost::asio::io_context disk;
  PolicySpec spec = three_slots(2, 2);
  spec.state_path = dir.file("state.json");
  spec.state_writer = &disk;
  EngineHarness h(spec, kStepping);
  h.fake("c").script_wrap({.fail = Code::unavailable});
  auto pending = h.encrypt_async(kSeed, 2s);
  ASSERT_TRUE(h.wait(pending));
  auto enc = pending.result.get();
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  EXPECT_EQ(enc->missing, std::vector<std::string>{"c"});
  EXPECT_FALSE(std::filesystem::exists(spec.state_path));  // answered first
  EXPECT_EQ(disk.run(), 1u);                                 // one write, queued
  auto saved = quorum::load_write_state(spec.state_path);
  ASSERT_TRUE(saved.ok()) << saved.error().message();
  EXPECT_TRUE(saved->degraded());
  EXPECT_EQ(saved->missing, std::set<std::string>{"c"});
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
  EngineHarness h(three_slots(2), kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  for (auto n : {"a", "b", "c"}) h.fake(n).script_unwrap({.hang = true});
  const auto start = Clock::now();
  auto pending = h.decrypt_async(enc->encoded, 150ms);
  h.step(149ms);
  EXPECT_FALSE(pending.ready());
  h.advance(1ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::deadline_exceeded) << plain.error().message();
  EXPECT_EQ(pending.took(start), 150ms);
  h.settle();
  EXPECT_EQ(h.fake("a").in_flight() + h.fake("b").in_flight() + h.fake("c").in_flight(), 0);
}

TEST(Engine, DeadlineExceededWhenProviderTimeoutsFireAtTheSameInstantAsTheDeadline) {
  // The provider timeout equals the request budget, and the fakes give up
  // at the deadline they are handed: three timers at one instant. Whichever
  // fires first, the answer is DEADLINE_EXCEEDED, every time.
  for (int round = 0; round < 20; ++round) {
    PolicySpec spec = three_slots(2);
    spec.provider_timeout = 150ms;
    EngineHarness h(spec, round % 2 ? 2u : kStepping);
    auto enc = h.encrypt(kSeed);
    ASSERT_TRUE(enc.ok());
    for (auto n : {"a", "b", "c"}) h.fake(n).script_unwrap({.hang = true});
    auto pending = h.decrypt_async(enc->encoded, 150ms);
    if (!h.stepping()) {
      ASSERT_TRUE(testkit::wait_until([&] {
        return h.fake("a").in_flight() + h.fake("b").in_flight() + h.fake("c").in_flight() >= 2;
      }));
    }
    h.advance(150ms);
    ASSERT_TRUE(h.wait(pending));
    auto plain = pending.result.get();
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code(), Code::deadline_exceeded)
        << "round " << round << ": " << plain.error().message();
  }
}

TEST(Engine, ProviderTimeoutFreesTheSlotForAnother) {
  PolicySpec spec = three_slots(1);
  spec.provider_timeout = 50ms;
  spec.min_hedge_delay = 1000ms;  // no hedging: only the timeout can help
  EngineHarness h(spec, kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.hang = true});
  const auto start = Clock::now();
  auto pending = h.decrypt_async(enc->encoded, 2s);
  h.step(60ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(pending.took(start), 50ms);
}

TEST(Engine, CallerCancellationStopsEveryProviderCall) {
  EngineHarness h(three_slots(2, 0, config::DecryptStrategy::all));
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  for (auto n : {"a", "b", "c"}) h.fake(n).script_unwrap({.hang = true});
  Strand strand = h.engine().make_strand();
  asio::cancellation_signal signal;
  auto pending = h.decrypt_async(enc->encoded, 5s, &strand, signal.slot());
  ASSERT_TRUE(testkit::wait_until([&] {
    return h.fake("a").in_flight() + h.fake("b").in_flight() + h.fake("c").in_flight() == 3;
  }));
  asio::post(strand, [&] { signal.emit(asio::cancellation_type::terminal); });
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::cancelled);
  ASSERT_TRUE(testkit::wait_until([&] {
    return h.fake("a").cancelled() + h.fake("b").cancelled() + h.fake("c").cancelled() == 3;
  }));
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
  EngineHarness h(three_slots(1, 1), kStepping);
  h.fake("a").script({.fail = Code::unavailable});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.encrypt(kSeed).ok());
  EXPECT_FALSE(h.managed("a").healthy());
  const int calls = h.fake("a").wraps();
  ASSERT_TRUE(h.encrypt(kSeed).ok());
  EXPECT_EQ(h.fake("a").wraps(), calls);  // not asked while open
  h.advance(199ms);                       // breaker_backoff is 200 ms in the harness
  ASSERT_TRUE(h.encrypt(kSeed).ok());
  EXPECT_EQ(h.fake("a").wraps(), calls);  // still not
  h.advance(1ms);
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
  EngineHarness h(spec, kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  h.fake("a").script_unwrap({.delay = 300ms});
  auto first = h.decrypt_async(enc->encoded, 2s);
  h.settle();
  auto second = h.decrypt_async(enc->encoded, 2s);  // queued
  h.settle();
  auto third = h.decrypt_async(enc->encoded, 2s);   // no room
  h.settle();
  ASSERT_TRUE(third.ready());
  auto t = third.result.get();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), Code::resource_exhausted);
  h.step(600ms);
  ASSERT_TRUE(h.wait(first) && h.wait(second));
  EXPECT_TRUE(first.result.get().ok());
  EXPECT_TRUE(second.result.get().ok());
}

TEST(Engine, CallQueuedBehindASaturatedProviderIsHedged) {
  PolicySpec spec;
  spec.threshold = 1;
  spec.slots = {{"a"}, {"b"}};
  spec.max_inflight = 1;
  EngineHarness h(spec, kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  teach_latency(h, {{"a", 1ms}, {"b", 4ms}});
  h.fake("b").script_unwrap({.delay = 4ms});
  // Someone else holds a's only call slot.
  std::optional<Permit> held;
  h.managed("a").limiter().async_acquire([&](Error e, Permit p) {
    ASSERT_TRUE(e.ok());
    held = std::move(p);
  });
  h.settle();
  ASSERT_TRUE(held && held->held());
  const auto start = Clock::now();
  auto pending = h.decrypt_async(enc->encoded, 2s);
  h.step(50ms);
  ASSERT_TRUE(h.wait(pending)) << "the queued call was never hedged";
  auto plain = pending.result.get();
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_LT(pending.took(start), 50ms);
  EXPECT_EQ(h.fake("a").unwraps(), 0);
  EXPECT_EQ(h.fake("b").unwraps(), 1);
}

TEST(Engine, ProviderTimeoutCountsFromTheQueueAndSparesTheProvidersHealth) {
  PolicySpec spec;
  spec.threshold = 1;
  spec.slots = {{"a"}};
  spec.max_inflight = 1;
  spec.provider_timeout = 100ms;
  EngineHarness h(spec, kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  std::optional<Permit> held;
  h.managed("a").limiter().async_acquire([&](Error, Permit p) { held = std::move(p); });
  h.settle();
  const auto start = Clock::now();
  auto pending = h.decrypt_async(enc->encoded, 5s);
  h.step(100ms);
  ASSERT_TRUE(h.wait(pending)) << "a queued call must not wait for the request deadline";
  auto plain = pending.result.get();
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::resource_exhausted) << plain.error().message();
  EXPECT_EQ(pending.took(start), 100ms);
  EXPECT_TRUE(h.managed("a").healthy());
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

// --- The policy in force decides what an envelope may claim (DESIGN §3.8) --

/// What an attacker with write access to etcd builds: a header of their own
/// choosing, whose shares of a key K' they picked were wrapped by real,
/// configured providers (one KMS admin can get that much).
envelope::Encoded forge(EngineHarness& h, unsigned threshold,
                        const std::vector<std::string>& slot_providers, ByteView plaintext) {
  SecretBytes key = SecretBytes::random(aead::kKeySize);
  envelope::Envelope env;
  env.threshold = static_cast<std::uint8_t>(threshold);
  random_fill(env.nonce);
  auto shares = shamir::split(key.view(), threshold, static_cast<unsigned>(slot_providers.size()));
  EXPECT_TRUE(shares.ok());
  for (std::size_t i = 0; i < slot_providers.size(); ++i) {
    const auto& share = shares.value()[i];
    Bytes context = envelope::share_context(env.nonce, env.threshold, share.x);
    std::optional<std::pair<Error, providers::WrapResult>> got;
    h.fake(slot_providers[i]).async_wrap(testkit::within(), context, share.y.view(),
                                         [&](Error e, providers::WrapResult w) {
                                           got.emplace(std::move(e), std::move(w));
                                         });
    h.settle();
    EXPECT_TRUE(got && got->first.ok());
    env.slots.push_back({share.x, {{slot_providers[i], got->second.key_version,
                                    std::move(got->second.wrapped)}}});
  }
  env.header_bytes = envelope::encode_header(env);
  env.sealed = aead::seal(key.view(), env.nonce, envelope::additional_data(env), plaintext).value();
  return envelope::encode(env, {}).value();
}

TEST(EngineTrust, ForgedLowThresholdEnvelopeWithOneProvidersShareIsRefused) {
  EngineHarness h(three_slots(2), kStepping);
  const Bytes chosen = to_bytes("attacker-chosen plaintext, 32 b.");
  envelope::Encoded forged = forge(h, 1, {"a"}, chosen);
  const int asked = h.fake("a").unwraps();
  auto plain = h.decrypt(forged);
  ASSERT_FALSE(plain.ok()) << "a single KMS forged a plaintext under 2-of-3";
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_TRUE(contains(plain.error().message(), "threshold 1")) << plain.error().message();
  EXPECT_EQ(h.fake("a").unwraps(), asked) << "no provider is asked for a refused envelope";
  EXPECT_EQ(h.engine().counters().forgeries_refused, 1u);
}

TEST(EngineTrust, TwoProvidersOfOnePolicySlotCannotStandForTwoEnvelopeSlots) {
  PolicySpec spec;
  spec.threshold = 2;
  spec.slots = {{"aws-eu", "aws-us"}, {"hsm"}, {"vault"}};
  EngineHarness h(spec, kStepping);
  const Bytes chosen = to_bytes("attacker-chosen plaintext, 32 b.");
  envelope::Encoded forged = forge(h, 2, {"aws-eu", "aws-us"}, chosen);
  auto plain = h.decrypt(forged);
  ASSERT_FALSE(plain.ok()) << "one AWS account forged a plaintext under 2-of-3";
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_TRUE(contains(plain.error().message(), "both stand for policy slot 0"))
      << plain.error().message();
  // And an honest envelope of the same policy still opens.
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  auto good = h.decrypt(enc->encoded);
  ASSERT_TRUE(good.ok()) << good.error().message();
}

TEST(EngineTrust, AnEnvelopeSlotMayNotMixProvidersOfTwoPolicySlots) {
  PolicySpec spec;
  spec.threshold = 2;
  spec.slots = {{"a"}, {"b"}, {"c"}};
  EngineHarness h(spec, kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  auto env = envelope::parse(enc->encoded.ciphertext, enc->encoded.annotations).value();
  // Move b's wrap into a's slot: one envelope slot now names a and b.
  env.slots[0].wraps.push_back(env.slots[1].wraps[0]);
  env.slots.erase(env.slots.begin() + 1);
  env.header_bytes = envelope::encode_header(env);
  auto plain = h.decrypt(envelope::encode(env, {}).value());
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_TRUE(contains(plain.error().message(), "names providers of policy slots"))
      << plain.error().message();
}

TEST(EngineTrust, EnvelopesOfAnEarlierPolicyOpenOnlyWhileItIsListedAndAreCounted) {
  PolicySpec old_policy;
  old_policy.threshold = 1;
  old_policy.slots = {{"a"}, {"b"}};
  PolicySpec stricter = old_policy;
  stricter.threshold = 2;
  // Each harness has fakes with keys of their own, so the k = 1 envelope an
  // operator wrote under the old policy is made with the reader's providers.
  EngineHarness refusing(stricter, kStepping);
  envelope::Encoded k1 = forge(refusing, 1, {"a", "b"}, kSeed);
  auto refused = refusing.decrypt(k1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::invalid_argument);

  stricter.previous = {{1, {{"a"}, {"b"}}}};
  EngineHarness accepting(stricter, kStepping);
  envelope::Encoded k1_again = forge(accepting, 1, {"a", "b"}, kSeed);
  auto plain = accepting.decrypt(k1_again);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
  EXPECT_EQ(accepting.engine().counters().earlier_policy_reads, 1u);
  // A fresh envelope meets the current policy and is not counted.
  auto enc = accepting.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  ASSERT_TRUE(accepting.decrypt(enc->encoded).ok());
  EXPECT_EQ(accepting.engine().counters().earlier_policy_reads, 1u);
}

TEST(EngineTrust, AKeyVersionTheProviderDoesNotOwnIsNeverSentToIt) {
  EngineHarness h(three_slots(1), kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  auto env = envelope::parse(enc->encoded.ciphertext, enc->encoded.annotations).value();
  for (auto& slot : env.slots) slot.wraps[0].key_version = "fake:foreign-account:v1";
  env.header_bytes = envelope::encode_header(env);
  auto plain = h.decrypt(envelope::encode(env, {}).value());
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument) << plain.error().message();
  EXPECT_EQ(h.fake("a").unwraps() + h.fake("b").unwraps() + h.fake("c").unwraps(), 0);
}

TEST(EngineTrust, ThreeReadsOfACorruptObjectLeaveAHealthyProvidersBreakerClosed) {
  EngineHarness h(three_slots(1, 1), kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  auto env = envelope::parse(enc->encoded.ciphertext, enc->encoded.annotations).value();
  envelope::Envelope foreign = env;
  for (auto& slot : foreign.slots) slot.wraps[0].key_version = "fake:unknown:v9";
  foreign.header_bytes = envelope::encode_header(foreign);
  envelope::Envelope tampered = env;
  for (auto& slot : tampered.slots) slot.wraps[0].wrapped.back() ^= 1;
  for (const auto* bad : {&foreign, &tampered}) {
    for (int i = 0; i < 5; ++i) {
      auto plain = h.decrypt(envelope::encode(*bad, {}).value());
      ASSERT_FALSE(plain.ok());
      EXPECT_EQ(plain.error().code(), Code::invalid_argument) << plain.error().message();
    }
  }
  for (auto n : {"a", "b", "c"}) EXPECT_TRUE(h.managed(n).healthy()) << n;
  EXPECT_TRUE(h.engine().status().healthy);
}

TEST(EngineTrust, TheSearchForAgreeingSharesIsBounded) {
  // 16 slots, k = 8, every provider lies: trying every 8-subset would be
  // 12,870 GCM passes on the strand. The search stops at its bound.
  PolicySpec spec;
  spec.threshold = 8;
  for (int i = 0; i < 16; ++i) spec.slots.push_back({"p" + std::to_string(i)});
  spec.decrypt = config::DecryptStrategy::all;
  EngineHarness h(spec, kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  for (int i = 0; i < 16; ++i) h.fake("p" + std::to_string(i)).script_unwrap({.garbage = true});
  auto plain = h.decrypt(enc->encoded);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_LE(h.engine().counters().combinations_tried, 64u);
  EXPECT_GE(h.engine().counters().combinations_tried, 1u);
}

TEST(EngineTrust, ExhaustedLockedMemoryIsAnErrorAnswerNotAnAbort) {
  EngineHarness h(three_slots(2), kStepping);
  auto enc = h.encrypt(kSeed);
  ASSERT_TRUE(enc.ok());
  fail_secret_allocations_for_testing(true);
  auto refused_write = h.encrypt(kSeed);
  auto refused_read = h.decrypt(enc->encoded);
  fail_secret_allocations_for_testing(false);
  ASSERT_FALSE(refused_write.ok());
  EXPECT_EQ(refused_write.error().code(), Code::resource_exhausted)
      << refused_write.error().message();
  ASSERT_FALSE(refused_read.ok());
  EXPECT_EQ(refused_read.error().code(), Code::resource_exhausted)
      << refused_read.error().message();
  // And the engine goes on serving once memory is back.
  auto plain = h.decrypt(enc->encoded);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kSeed));
}

// Public-key wraps are not authentic: a slot counts as forgeable when any
// of its providers has them, since an envelope may name any one of them.
TEST(EngineTrust, ForgeableSlotsAreThoseWithAPublicKeyWrapper) {
  PolicySpec spec;
  spec.threshold = 2;
  spec.slots = {{"a"}, {"b", "c"}, {"d"}};
  EngineHarness h(spec, kStepping);
  EXPECT_TRUE(h.engine().forgeable_slots().empty());
  h.fake("c").set_anyone_can_wrap(true);
  EXPECT_EQ(h.engine().forgeable_slots(), (std::vector<std::size_t>{1}));  // below k = 2
  h.fake("a").set_anyone_can_wrap(true);
  EXPECT_EQ(h.engine().forgeable_slots(), (std::vector<std::size_t>{0, 1}));  // reaches k
}

// kms's services start each request on the gRPC thread that received it,
// under a CallerQueue (common/caller_executor.hpp), and the engine arms the
// request's timers from there a strand turn later. A request that then waits
// on its providers must keep every one of them.

/// Encrypts, makes every provider hang on unwrap, and starts a decrypt
/// within `budget` on this thread, as kms's services do.
testkit::Pending<SecretBytes> hung_decrypt_started_here(EngineHarness& h,
                                                        std::chrono::milliseconds budget) {
  auto enc = h.encrypt(kSeed);
  EXPECT_TRUE(enc.ok()) << enc.error().message();
  for (const char* n : {"a", "b", "c"}) h.fake(n).script_unwrap({.hang = true});
  Strand strand = h.engine().make_strand();
  CallerQueue here(strand);
  auto pending = h.decrypt_async(enc->encoded, budget, &strand);
  here.run();
  EXPECT_FALSE(pending.ready());
  return pending;
}

TEST(Engine, ARequestStartedOnTheCallersThreadStillHedgesAndTimesOut) {
  PolicySpec spec = three_slots(2);
  spec.provider_timeout = 100ms;
  EngineHarness h(spec, kStepping);
  const auto start = Clock::now();
  auto pending = hung_decrypt_started_here(h, 2s);
  h.step(400ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_FALSE(plain.ok());
  EXPECT_TRUE(testkit::contains(plain.error().message(), "no answer within 100ms"))
      << plain.error().message();
  EXPECT_LT(pending.took(start), 2s) << "the call timeouts ended it, not the deadline";
  EXPECT_EQ(h.fake("a").unwraps() + h.fake("b").unwraps() + h.fake("c").unwraps(), 3)
      << "a hedge started the third call";
}

TEST(Engine, ARequestStartedOnTheCallersThreadStillMeetsItsDeadline) {
  EngineHarness h(three_slots(2), kStepping);
  const auto start = Clock::now();
  auto pending = hung_decrypt_started_here(h, 300ms);
  h.step(400ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::deadline_exceeded) << plain.error().message();
  EXPECT_EQ(pending.took(start), 300ms);
}

}  // namespace
}  // namespace trousseau::quorum
