// The injected provider under manual time: it answers after its drawn
// delay and not before, hangs until cancelled or its deadline, wraps with
// real AES-GCM, and records every call for the bench.
#include "bench/providers/injected/injected_provider.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <optional>
#include <sstream>

#include "support/call_options.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::bench::injected {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testkit::within;

/// One thread, manual time: nothing runs until settle() or advance(), and
/// settle() runs everything due at this instant (as EngineHarness does).
class Stepping : public ::testing::Test {
 protected:
  void settle() {
    // The reactor notices a due timer only when its own timer fires: a
    // marker due now is collected in the same pass as every other due
    // timer, so once a round runs nothing but the marker, all is done.
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
  void advance(Clock::duration by) {
    time.advance(by);
    settle();
  }

  static Settings constant(Clock::duration value) {
    Settings s;
    s.delay.value = value;
    return s;
  }
  static Settings hung() {
    Settings s;
    s.hang = true;
    return s;
  }

  ManualTime time;  // first in, last out: outlives every timer
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  Bytes context = to_bytes("share-context");
  SecretBytes share = SecretBytes::random(32);
};

template <typename T>
struct Answer {
  Error error;
  T value;
};

template <typename T>
auto keep(std::optional<Answer<T>>& into) {
  return [&into](Error e, T v) { into.emplace(Answer<T>{std::move(e), std::move(v)}); };
}

using WrapAnswer = std::optional<Answer<providers::WrapResult>>;
using UnwrapAnswer = std::optional<Answer<SecretBytes>>;

TEST_F(Stepping, AConstantDelayAnswersWhenItIsUpAndNotBefore) {
  InjectedProvider p("a", constant(10ms), io.get_executor());
  WrapAnswer got;
  p.async_wrap(within(1s), context, share.view(), keep(got));
  EXPECT_FALSE(got) << "answered inside the initiating call";
  settle();
  EXPECT_FALSE(got);
  advance(9ms);
  EXPECT_FALSE(got);
  advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->error.ok()) << got->error.message();
  EXPECT_EQ(got->value.key_version, p.key_identity());
}

TEST_F(Stepping, AZeroDelayStillNeverAnswersInline) {
  InjectedProvider p("a", constant(0ms), io.get_executor());
  WrapAnswer got;
  p.async_wrap(within(1s), context, share.view(), keep(got));
  EXPECT_FALSE(got);
  settle();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->error.ok());
}

TEST_F(Stepping, AWrappedShareUnwrapsToTheSameBytes) {
  InjectedProvider p("a", constant(3ms), io.get_executor());
  WrapAnswer wrapped;
  p.async_wrap(within(1s), context, share.view(), keep(wrapped));
  advance(3ms);
  ASSERT_TRUE(wrapped && wrapped->error.ok());
  EXPECT_TRUE(p.owns_key_version(wrapped->value.key_version));
  UnwrapAnswer got;
  p.async_unwrap(within(1s), context, wrapped->value.key_version, wrapped->value.wrapped,
                 keep(got));
  advance(2ms);
  EXPECT_FALSE(got);
  advance(1ms);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->error.ok()) << got->error.message();
  EXPECT_TRUE(got->value.equals(share.view()));
}

TEST_F(Stepping, ATamperedShareOrAnotherContextFailsIntegrityAfterTheDelay) {
  InjectedProvider p("a", constant(3ms), io.get_executor());
  WrapAnswer wrapped;
  p.async_wrap(within(1s), context, share.view(), keep(wrapped));
  advance(3ms);
  ASSERT_TRUE(wrapped && wrapped->error.ok());
  Bytes tampered = wrapped->value.wrapped;
  tampered.back() ^= 0x01;
  UnwrapAnswer bad, other;
  p.async_unwrap(within(1s), context, wrapped->value.key_version, tampered, keep(bad));
  p.async_unwrap(within(1s), to_bytes("another-context"), wrapped->value.key_version,
                 wrapped->value.wrapped, keep(other));
  settle();
  EXPECT_FALSE(bad);  // a KMS takes its time to say no, too
  advance(3ms);
  ASSERT_TRUE(bad && other);
  EXPECT_EQ(bad->error.code(), Code::integrity) << bad->error.message();
  EXPECT_TRUE(bad->value.empty());
  EXPECT_EQ(other->error.code(), Code::integrity) << other->error.message();
}

TEST_F(Stepping, AnotherInstancesShareIsRefusedAtOnceAsForeign) {
  InjectedProvider a("a", constant(3ms), io.get_executor());
  InjectedProvider b("b", constant(3ms), io.get_executor());
  EXPECT_NE(a.key_identity(), b.key_identity());
  WrapAnswer wrapped;
  a.async_wrap(within(1s), context, share.view(), keep(wrapped));
  advance(3ms);
  ASSERT_TRUE(wrapped && wrapped->error.ok());
  EXPECT_FALSE(b.owns_key_version(wrapped->value.key_version));
  UnwrapAnswer got;
  b.async_unwrap(within(1s), context, wrapped->value.key_version, wrapped->value.wrapped,
                 keep(got));
  settle();  // no delay: nothing is sent to the "KMS"
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::invalid_argument) << got->error.message();
}

TEST_F(Stepping, AHungCallCompletesWithCancelledWhenItsSlotIsCancelled) {
  InjectedProvider p("a", hung(), io.get_executor());
  asio::cancellation_signal signal;
  WrapAnswer got;
  p.async_wrap(within(10s), context, share.view(),
               asio::bind_cancellation_slot(signal.slot(), keep(got)));
  advance(5s);
  EXPECT_FALSE(got);
  signal.emit(asio::cancellation_type::terminal);
  settle();  // at once: no time passes
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::cancelled) << got->error.message();
  EXPECT_TRUE(got->value.wrapped.empty());
}

TEST_F(Stepping, AHungCallCompletesWithDeadlineExceededAtItsDeadline) {
  InjectedProvider p("a", hung(), io.get_executor());
  UnwrapAnswer got;
  p.async_unwrap(within(2s), context, p.key_identity(), Bytes(40, 0), keep(got));
  advance(2s - 1ms);
  EXPECT_FALSE(got);
  advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::deadline_exceeded) << got->error.message();
}

TEST_F(Stepping, HangUnwrapWrapsAfterItsDelayButHangsOnUnwrap) {
  Settings s = constant(5ms);
  s.hang_unwrap = true;
  InjectedProvider p("a", s, io.get_executor());
  WrapAnswer wrapped;
  p.async_wrap(within(2s), context, share.view(), keep(wrapped));
  advance(5ms);
  ASSERT_TRUE(wrapped);
  ASSERT_TRUE(wrapped->error.ok()) << wrapped->error.message();
  UnwrapAnswer got;
  p.async_unwrap(within(2s), context, wrapped->value.key_version, wrapped->value.wrapped,
                 keep(got));
  advance(2s - 1ms);
  EXPECT_FALSE(got);
  advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::deadline_exceeded) << got->error.message();
}

TEST_F(Stepping, ADelayPastTheDeadlineEndsAtTheDeadline) {
  InjectedProvider p("a", constant(50ms), io.get_executor());
  WrapAnswer got;
  p.async_wrap(within(20ms), context, share.view(), keep(got));
  advance(19ms);
  EXPECT_FALSE(got);
  advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::deadline_exceeded);
}

TEST_F(Stepping, ACancelledDelayedCallCompletesAtOnce) {
  InjectedProvider p("a", constant(50ms), io.get_executor());
  asio::cancellation_signal signal;
  WrapAnswer got;
  p.async_wrap(within(1s), context, share.view(),
               asio::bind_cancellation_slot(signal.slot(), keep(got)));
  advance(10ms);
  signal.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error.code(), Code::cancelled);
}

TEST_F(Stepping, TheLeaseIsHeldUntilTheDelayIsOver) {
  InjectedProvider p("a", constant(10ms), io.get_executor());
  auto lease = std::make_shared<int>(0);
  std::weak_ptr<int> watch = lease;
  providers::CallOptions options = within(1s);
  options.lease = std::move(lease);
  WrapAnswer got;
  p.async_wrap(options, context, share.view(), keep(got));
  options.lease.reset();
  advance(9ms);
  EXPECT_FALSE(watch.expired());
  advance(1ms);
  EXPECT_TRUE(watch.expired());
  EXPECT_TRUE(got);
}

TEST_F(Stepping, ProbesAnswerAtOnceEvenWhenCallsHang) {
  InjectedProvider p("a", hung(), io.get_executor());
  std::optional<Error> got;
  p.async_probe(within(1s), [&](Error e) { got = std::move(e); });
  EXPECT_FALSE(got);
  settle();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->ok());
}

std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream s(line);
    for (std::string f; std::getline(s, f, '\t');) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

using Row = std::vector<std::string>;

TEST_F(Stepping, TheRecordHasOneLinePerCallWithItsRequestIdWrittenWhenTheProviderGoes) {
  testkit::TempDir dir;
  const std::string path = dir.file("calls.tsv");
  testkit::write_file(path, "stale line from an earlier run\n");
  Settings s = constant(7ms);
  s.record = path;
  {
    auto made = InjectedProvider::create("kms-b", s, io.get_executor());
    ASSERT_TRUE(made.ok()) << made.error().message();
    InjectedProvider& p = *made.value();
    EXPECT_TRUE(read_tsv(path).empty()) << "emptied at creation";
    providers::CallOptions options = within(1s);
    options.request_id = "req-1";
    WrapAnswer wrapped;
    p.async_wrap(options, context, share.view(), keep(wrapped));
    advance(7ms);
    ASSERT_TRUE(wrapped && wrapped->error.ok());
    options.request_id = "req-2";
    UnwrapAnswer opened, foreign, late;
    p.async_unwrap(options, context, wrapped->value.key_version, wrapped->value.wrapped,
                   keep(opened));
    p.async_unwrap(options, context, "not-mine", wrapped->value.wrapped, keep(foreign));
    providers::CallOptions hurried = within(3ms);
    hurried.request_id = "bad\tid\n";  // untrusted text cannot break a line
    p.async_unwrap(hurried, context, wrapped->value.key_version, wrapped->value.wrapped,
                   keep(late));
    std::optional<Error> probed;
    p.async_probe(within(1s), [&](Error e) { probed = std::move(e); });
    advance(3ms);  // the hurried call's deadline: its actual_ns says 3 ms
    advance(4ms);
    ASSERT_TRUE(opened && foreign && late && probed);
    EXPECT_TRUE(read_tsv(path).empty()) << "no file I/O on the request path";
  }
  EXPECT_EQ(read_tsv(path), (std::vector<Row>{
                                {"req-1", "kms-b", "wrap", "7000000", "ok", "7000000"},
                                {"req-2", "kms-b", "unwrap", "7000000", "ok", "7000000"},
                                {"req-2", "kms-b", "unwrap", "0", "invalid_argument", "0"},
                                // ended by its 3 ms deadline, before the 7 ms drawn
                                {"bad?id?", "kms-b", "unwrap", "7000000", "deadline_exceeded", "3000000"},
                                {"-", "kms-b", "probe", "0", "ok", "0"},
                            }));
}

TEST_F(Stepping, TheRecordOfAHungCallSaysInfAndHowItEnded) {
  testkit::TempDir dir;
  const std::string path = dir.file("calls.tsv");
  Settings s = hung();
  s.record = path;
  {
    auto made = InjectedProvider::create("kms-h", s, io.get_executor());
    ASSERT_TRUE(made.ok()) << made.error().message();
    asio::cancellation_signal signal;
    providers::CallOptions options = within(1s);
    options.request_id = "r";
    WrapAnswer cancelled, expired;
    made.value()->async_wrap(options, context, share.view(),
                             asio::bind_cancellation_slot(signal.slot(), keep(cancelled)));
    made.value()->async_wrap(options, context, share.view(), keep(expired));
    signal.emit(asio::cancellation_type::terminal);
    settle();  // cancelled at once: actual_ns 0
    advance(1s);
    ASSERT_TRUE(cancelled && expired);
  }
  EXPECT_EQ(read_tsv(path), (std::vector<Row>{
                                {"r", "kms-h", "wrap", "inf", "cancelled", "0"},
                                {"r", "kms-h", "wrap", "inf", "deadline_exceeded", "1000000000"},
                            }));
}

TEST_F(Stepping, ARecordFileThatCannotBeCreatedFailsAtCreation) {
  Settings s = constant(1ms);
  s.record = "/nonexistent-dir/calls.tsv";
  auto made = InjectedProvider::create("a", s, io.get_executor());
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("/nonexistent-dir/calls.tsv"), std::string::npos)
      << made.error().message();
}

TEST_F(Stepping, TheSameSeedGivesTheSameDelays) {
  Settings s;
  s.delay.distribution = DelaySpec::Distribution::lognormal;
  s.delay.median = 10ms;
  s.delay.p99 = 40ms;
  s.seed = 5;
  DelaySampler expected(s.delay, 5);
  InjectedProvider p("a", s, io.get_executor());
  for (int i = 0; i < 3; ++i) {
    const Clock::time_point start = Clock::now();
    const Clock::duration want = expected.next();
    WrapAnswer got;
    p.async_wrap(within(1s), context, share.view(), keep(got));
    advance(want - 1ns);
    EXPECT_FALSE(got) << i;
    advance(1ns);
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(Clock::now() - start, want);
  }
}

}  // namespace
}  // namespace trousseau::bench::injected
