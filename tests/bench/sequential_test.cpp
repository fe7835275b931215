// The serial-failover imitation under manual time: wraps under every
// member in turn, unwraps with the first member that answers, moving on
// after an error at once and after a silence of member_timeout.
#include "bench/providers/sequential/sequential_provider.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <fstream>
#include <optional>

#include "bench/providers/sequential/shares.hpp"
#include "providers/registry.hpp"
#include "support/call_options.hpp"
#include "support/provider_entry.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::bench::sequential {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using injected::InjectedProvider;
using testkit::within;

template <typename T>
struct Answer {
  Error error;
  T value;
  Clock::time_point at;
};

template <typename T>
auto keep(std::optional<Answer<T>>& into) {
  return [&into](Error e, T v) {
    into.emplace(Answer<T>{std::move(e), std::move(v), Clock::now()});
  };
}

using WrapAnswer = std::optional<Answer<providers::WrapResult>>;
using UnwrapAnswer = std::optional<Answer<SecretBytes>>;

injected::Settings constant(Clock::duration value) {
  injected::Settings s;
  s.delay.value = value;
  return s;
}

injected::Settings hung() {
  injected::Settings s;
  s.hang = true;
  return s;
}

/// One thread, manual time: nothing runs until settle() or advance(), and
/// settle() runs everything due at this instant (as EngineHarness does).
/// A chain starts its walk on its strand: settle() after starting a call.
class Sequential : public ::testing::Test {
 protected:
  void settle() {
    for (;;) {
      bool marked = false;
      Timer marker(io);
      marker.expires_at(Clock::now());
      marker.async_wait([&](boost::system::error_code) { marked = true; });
      std::size_t ran = 0;
      while (!marked) ran += io.run_one();
      ran += io.poll();
      if (ran == 1) return;
    }
  }
  /// Moves time in 1 ms ticks, settling after each: a member that answers
  /// within a jump hands over to the next at the right instant.
  void advance(Clock::duration by) {
    for (Clock::duration done{}; done < by; done += 1ms) {
      time.advance(std::min<Clock::duration>(1ms, by - done));
      settle();
    }
  }

  /// A chain over `first` and `second` (kept here too, to call them
  /// directly), with a member_timeout of 100 ms.
  void make(const injected::Settings& first, const injected::Settings& second) {
    std::vector<std::unique_ptr<InjectedProvider>> members;
    members.push_back(std::make_unique<InjectedProvider>("m1", first, io.get_executor()));
    members.push_back(std::make_unique<InjectedProvider>("m2", second, io.get_executor()));
    m1 = members[0].get();
    m2 = members[1].get();
    chain =
        std::make_unique<SequentialProvider>("chain", std::move(members), 100ms, io.get_executor());
  }

  /// What the chain would store, with `first_share` standing for m1's
  /// share and m2's real one (wrapped directly, taking m2's delay).
  Bytes stored(const Bytes& first_share, Clock::duration m2_delay) {
    WrapAnswer w2;
    m2->async_wrap(within(1s), context, share.view(), keep(w2));
    advance(m2_delay);
    if (!w2 || !w2->error.ok()) {
      ADD_FAILURE() << "m2 did not wrap";
      return {};
    }
    return encode_shares(
        {{m1->key_identity(), first_share}, {m2->key_identity(), w2->value.wrapped}});
  }

  ManualTime time;  // first in, last out: outlives every timer
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  Bytes context = to_bytes("share-context");
  SecretBytes share = SecretBytes::random(32);
  InjectedProvider* m1 = nullptr;
  InjectedProvider* m2 = nullptr;
  std::unique_ptr<SequentialProvider> chain;
};

TEST_F(Sequential, WrapAsksEveryMemberOneAfterTheOtherAndUnwrapAnswersFromTheFirst) {
  make(constant(5ms), constant(7ms));
  const Clock::time_point start = Clock::now();
  WrapAnswer wrapped;
  chain->async_wrap(within(1s), context, share.view(), keep(wrapped));
  settle();
  advance(11ms);
  EXPECT_FALSE(wrapped);
  advance(1ms);
  ASSERT_TRUE(wrapped);
  ASSERT_TRUE(wrapped->error.ok()) << wrapped->error.message();
  EXPECT_EQ(wrapped->at - start, 12ms);
  EXPECT_EQ(wrapped->value.key_version, chain->key_identity());
  auto shares = decode_shares(wrapped->value.wrapped);
  ASSERT_TRUE(shares);
  ASSERT_EQ(shares->size(), 2u);
  EXPECT_EQ((*shares)[0].key_version, m1->key_identity());
  EXPECT_EQ((*shares)[1].key_version, m2->key_identity());

  const Clock::time_point asked = Clock::now();
  UnwrapAnswer got;
  chain->async_unwrap(within(1s), context, wrapped->value.key_version, wrapped->value.wrapped,
                      keep(got));
  settle();
  advance(5ms);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->error.ok()) << got->error.message();
  EXPECT_EQ(got->at - asked, 5ms);  // m1 alone
  EXPECT_TRUE(got->value.equals(share.view()));
}

TEST_F(Sequential, AHungFirstMemberIsLeftAfterMemberTimeoutAndTheSecondAnswers) {
  make(hung(), constant(7ms));
  // The wrap waits out m1 too, and keeps its place with an empty share.
  WrapAnswer wrapped;
  chain->async_wrap(within(1s), context, share.view(), keep(wrapped));
  settle();
  advance(107ms);
  ASSERT_TRUE(wrapped);
  ASSERT_TRUE(wrapped->error.ok()) << wrapped->error.message();
  auto shares = decode_shares(wrapped->value.wrapped);
  ASSERT_TRUE(shares && shares->size() == 2u);
  EXPECT_TRUE((*shares)[0].wrapped.empty());
  EXPECT_FALSE((*shares)[1].wrapped.empty());

  const Clock::time_point asked = Clock::now();
  UnwrapAnswer got;
  chain->async_unwrap(within(1s), context, wrapped->value.key_version, wrapped->value.wrapped,
                      keep(got));
  settle();
  advance(100ms - 1ms);
  EXPECT_FALSE(got);
  advance(1ms);  // m1 given up; m2 asked now
  EXPECT_FALSE(got);
  advance(6ms);
  EXPECT_FALSE(got);
  advance(1ms);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->error.ok()) << got->error.message();
  EXPECT_EQ(got->at - asked, 107ms);
  EXPECT_TRUE(got->value.equals(share.view()));
}

TEST_F(Sequential, AFailingFirstMemberIsLeftAtOnceForTheSecond) {
  make(constant(5ms), constant(7ms));
  WrapAnswer w1;
  m1->async_wrap(within(1s), context, share.view(), keep(w1));
  advance(5ms);
  ASSERT_TRUE(w1 && w1->error.ok());
  Bytes tampered = w1->value.wrapped;
  tampered.back() ^= 0x01;
  const Bytes blob = stored(tampered, 7ms);
  const Clock::time_point asked = Clock::now();
  UnwrapAnswer got;
  chain->async_unwrap(within(1s), context, chain->key_identity(), blob, keep(got));
  settle();
  advance(12ms);  // m1's 5 ms to say no, then m2's 7: not member_timeout
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->error.ok()) << got->error.message();
  EXPECT_EQ(got->at - asked, 12ms);
  EXPECT_TRUE(got->value.equals(share.view()));
}

TEST_F(Sequential, AFirstMemberThatDoesNotOwnItsShareIsLeftWithoutDelay) {
  make(constant(5ms), constant(7ms));
  Bytes blob = stored(Bytes(60, 0x5a), 7ms);
  auto shares = decode_shares(blob);
  ASSERT_TRUE(shares);
  (*shares)[0].key_version = "injected:someone-else";
  const Clock::time_point asked = Clock::now();
  UnwrapAnswer got;
  chain->async_unwrap(within(1s), context, chain->key_identity(), encode_shares(*shares),
                      keep(got));
  settle();
  advance(7ms);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->error.ok()) << got->error.message();
  EXPECT_EQ(got->at - asked, 7ms);
}

TEST_F(Sequential, WhenEveryMemberFindsTheDataBadTheAnswerIsIntegrity) {
  make(constant(5ms), constant(7ms));
  const Bytes blob =
      encode_shares({{m1->key_identity(), Bytes(60, 1)}, {m2->key_identity(), Bytes(60, 2)}});
  UnwrapAnswer got;
  chain->async_unwrap(within(1s), context, chain->key_identity(), blob, keep(got));
  settle();
  advance(12ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::integrity) << got->error.message();
  EXPECT_NE(got->error.message().find("m1: "), std::string::npos) << got->error.message();
  EXPECT_NE(got->error.message().find("m2: "), std::string::npos) << got->error.message();
}

TEST_F(Sequential, MalformedOrForeignDataIsRefused) {
  make(constant(5ms), constant(7ms));
  UnwrapAnswer malformed, short_one, foreign;
  chain->async_unwrap(within(1s), context, chain->key_identity(), Bytes{0, 0, 0, 9, 1},
                      keep(malformed));
  chain->async_unwrap(within(1s), context, chain->key_identity(),
                      encode_shares({{m1->key_identity(), Bytes(60, 1)}}), keep(short_one));
  chain->async_unwrap(within(1s), context, "sequential:other", Bytes(60, 1), keep(foreign));
  settle();  // no member is asked
  ASSERT_TRUE(malformed && short_one && foreign);
  EXPECT_EQ(malformed->error.code(), Code::integrity);
  EXPECT_EQ(short_one->error.code(), Code::integrity);
  EXPECT_EQ(foreign->error.code(), Code::invalid_argument);
}

TEST_F(Sequential, CancellationReachesTheMemberCallInFlight) {
  make(hung(), constant(7ms));
  const Bytes blob = stored(Bytes(60, 0x5a), 7ms);
  auto lease = std::make_shared<int>(0);
  std::weak_ptr<int> watch = lease;
  providers::CallOptions options = within(1s);
  options.lease = std::move(lease);
  asio::cancellation_signal signal;
  UnwrapAnswer got;
  chain->async_unwrap(options, context, chain->key_identity(), blob,
                      asio::bind_cancellation_slot(signal.slot(), keep(got)));
  settle();
  options.lease.reset();
  advance(50ms);
  EXPECT_FALSE(got);
  signal.emit(asio::cancellation_type::terminal);
  settle();  // no time passes
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::cancelled) << got->error.message();
  EXPECT_TRUE(watch.expired());
}

TEST_F(Sequential, TheCallsDeadlineBoundsEveryMember) {
  make(hung(), constant(7ms));
  const Bytes blob = stored(Bytes(60, 0x5a), 7ms);
  UnwrapAnswer got;
  chain->async_unwrap(within(50ms), context, chain->key_identity(), blob, keep(got));
  settle();
  advance(49ms);
  EXPECT_FALSE(got);
  advance(1ms);  // m1's budget ends with the call's: m2 is not asked
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::deadline_exceeded) << got->error.message();
}

TEST_F(Sequential, AWrapFailsOnlyWhenNoMemberWraps) {
  make(hung(), hung());
  WrapAnswer got;
  chain->async_wrap(within(1s), context, share.view(), keep(got));
  settle();
  advance(199ms);
  EXPECT_FALSE(got);
  advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::deadline_exceeded) << got->error.message();
  EXPECT_NE(got->error.message().find("m1: "), std::string::npos) << got->error.message();
  EXPECT_NE(got->error.message().find("m2: "), std::string::npos) << got->error.message();
  EXPECT_TRUE(got->value.wrapped.empty());
}

TEST_F(Sequential, EveryMemberCallCarriesTheRequestIdIntoItsRecord) {
  testkit::TempDir dir;
  const std::string path = dir.file("calls.tsv");
  {
    injected::Settings first = hung();
    first.record = path;
    injected::Settings second = constant(7ms);
    second.record = path;
    make(first, second);
    const Bytes blob = stored(Bytes(60, 0x5a), 7ms);
    providers::CallOptions options = within(1s);
    options.request_id = "uid-42";
    UnwrapAnswer got;
    chain->async_unwrap(options, context, chain->key_identity(), blob, keep(got));
    settle();
    advance(107ms);
    ASSERT_TRUE(got && got->error.ok());
    chain.reset();  // writes both members' records
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());  // the members write in either order
  const std::vector<std::string> want{
      "-\tm2\twrap\t7000000\tok\t7000000",
      "uid-42\tm1\tunwrap\tinf\tdeadline_exceeded\t100000000",
      "uid-42\tm2\tunwrap\t7000000\tok\t7000000",
  };
  EXPECT_EQ(lines, want);
}

TEST_F(Sequential, ProbesAnswerAtOnce) {
  make(hung(), hung());
  std::optional<Error> got;
  chain->async_probe(within(1s), [&](Error e) { got = std::move(e); });
  EXPECT_FALSE(got);
  settle();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->ok());
}

// Configuration.

std::pair<std::unique_ptr<Settings>, std::vector<std::string>> parse(const std::string& flow) {
  settings::Diagnostics diag;
  settings::Node node = testkit::provider_entry(flow, diag);
  (void)node.string("name");
  (void)node.string("type");
  auto s = parse_settings(node);
  node.reject_unknown_keys();
  return {std::move(s), diag.errors()};
}

TEST(SequentialSettings, ReadsMembersWithAnInjectedsKeysAndMemberTimeout) {
  EXPECT_NE(providers::Registry::instance().find("sequential"), nullptr);
  auto [s, errors] = parse(
      "{name: old, type: sequential, member_timeout: 250ms, members: ["
      "{name: kms-a, delay: {distribution: constant, value: 5ms}, seed: 3},"
      "{name: kms-b, hang: true, record: /tmp/b.tsv}]}");
  ASSERT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(s->member_timeout, 250ms);
  ASSERT_EQ(s->members.size(), 2u);
  EXPECT_EQ(s->members[0].name, "kms-a");
  EXPECT_EQ(s->members[0].settings->delay.value, 5ms);
  EXPECT_EQ(s->members[0].settings->seed, 3u);
  EXPECT_EQ(s->members[1].name, "kms-b");
  EXPECT_TRUE(s->members[1].settings->hang);
  EXPECT_EQ(s->members[1].settings->record, "/tmp/b.tsv");
}

TEST(SequentialSettings, ErrorsNameTheirFieldPaths) {
  auto [none, e1] = parse("{name: old, type: sequential}");
  ASSERT_FALSE(e1.empty());
  EXPECT_EQ(e1[0], "providers[0].members: at least one member is required");
  auto [bad, e2] = parse(
      "{name: old, type: sequential, member_timeout: soon, members: ["
      "{name: a, delay: {distribution: constant}}, {name: a, hang: true, colour: red}]}");
  const std::vector<std::string> want{
      "providers[0].members[0].delay.value: is required",
      "providers[0].members[1].name: duplicate member name 'a'",
      "providers[0].members[1].colour: unknown field",
      "providers[0].member_timeout: must be a duration such as 250ms, 3s or 5m, got 'soon'",
  };
  EXPECT_EQ(e2, want);
}

}  // namespace
}  // namespace trousseau::bench::sequential
