// The circuit breaker rules of ManagedProvider (managed_provider.hpp), on
// manual time.
#include "quorum/managed_provider.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "support/fake_provider.hpp"

namespace trousseau::quorum {
namespace {

using namespace std::chrono_literals;

class Breaker : public ::testing::Test {
 protected:
  Breaker() {
    health.failure_threshold = 3;
    health.breaker_backoff = 30s;
    config.name = "p";
    managed.emplace(std::make_unique<testkit::FakeProvider>("p", io.get_executor()), config,
                    health, io.get_executor());
  }

  ManualTime time;
  boost::asio::io_context io;
  config::ProviderConfig config;
  config::HealthConfig health;
  std::optional<ManagedProvider> managed;
};

TEST_F(Breaker, StartsClosedSoThatRequestsMayTryBeforeTheFirstProbe) {
  EXPECT_TRUE(managed->healthy());
  EXPECT_TRUE(managed->admit());
  EXPECT_FALSE(managed->health().probed);
}

TEST_F(Breaker, AFailedProbeOpensItAtOnce) {
  managed->record_probe(unavailable("down"), 1ms);
  EXPECT_FALSE(managed->healthy());
  EXPECT_EQ(managed->health().last_error, "down");
}

// A probe that began during an outage and gave up after the provider had
// answered a call again says nothing new: it must not open the breaker
// (the soak found this: a stale probe cut a recovered remote off, and a
// quorum that needed it failed). One that began after the success does.
TEST_F(Breaker, AFailedProbeOlderThanASuccessLeavesItClosed) {
  time.advance(10s);
  managed->record_success(1ms);
  time.advance(2s);
  managed->record_probe(unavailable("began before the success"), 5s);
  EXPECT_TRUE(managed->healthy());
  EXPECT_TRUE(managed->admit());
  time.advance(2s);
  managed->record_probe(unavailable("began after the success"), 1s);
  EXPECT_FALSE(managed->healthy());
  EXPECT_EQ(managed->health().last_error, "began after the success");
}

TEST_F(Breaker, ThresholdTransientFailuresInARowOpenIt) {
  managed->record_failure(unavailable("1"));
  managed->record_failure(Error(Code::deadline_exceeded, "2"));
  EXPECT_TRUE(managed->healthy());
  managed->record_failure(Error(Code::permission_denied, "3"));
  EXPECT_FALSE(managed->healthy());
}

TEST_F(Breaker, ASuccessInBetweenResetsTheCount) {
  managed->record_failure(unavailable("1"));
  managed->record_failure(unavailable("2"));
  managed->record_success(1ms);
  managed->record_failure(unavailable("3"));
  managed->record_failure(unavailable("4"));
  EXPECT_TRUE(managed->healthy());
}

TEST_F(Breaker, FailuresOfTheDataOrOfTheCallerNeverCount) {
  for (int i = 0; i < 10; ++i) {
    managed->record_failure(integrity_error("tampered share"));
    managed->record_failure(invalid_argument("foreign key version"));
    managed->record_failure(Error(Code::cancelled, "caller went away"));
    managed->record_failure(Error(Code::resource_exhausted, "our own queue"));
  }
  EXPECT_TRUE(managed->healthy());
  EXPECT_EQ(managed->health().consecutive_failures, 0u);
}

TEST_F(Breaker, WhileOpenOneTrialCallIsLetThroughPerBackoff) {
  managed->record_probe(unavailable("down"), 1ms);
  EXPECT_FALSE(managed->admit());
  time.advance(29s);
  EXPECT_FALSE(managed->admit());
  time.advance(1s);
  EXPECT_TRUE(managed->admit());   // the trial
  EXPECT_FALSE(managed->admit());  // and only one
  time.advance(30s);
  EXPECT_TRUE(managed->admit());
  managed->record_success(1ms);    // the trial worked: closed again
  EXPECT_TRUE(managed->healthy());
  EXPECT_TRUE(managed->admit());
  EXPECT_TRUE(managed->admit());
}

}  // namespace
}  // namespace trousseau::quorum
