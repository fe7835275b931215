#include "common/clock.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace trousseau {
namespace {

using namespace std::chrono_literals;

TEST(ManualTime, StandsStillUntilAdvanced) {
  ManualTime time;
  const auto t0 = Clock::now();
  EXPECT_EQ(Clock::now(), t0);
  time.advance(250ms);
  EXPECT_EQ(Clock::now() - t0, 250ms);
}

TEST(ManualTime, NestedInstancesShareOneTime) {
  ManualTime outer;
  const auto t0 = Clock::now();
  {
    ManualTime inner;
    inner.advance(1s);
    EXPECT_EQ(Clock::now() - t0, 1s);
  }
  EXPECT_EQ(Clock::now() - t0, 1s);  // still manual while `outer` lives
}

TEST(ManualTime, TimersFireWhenTimeIsAdvancedNotBefore) {
  ManualTime time;
  boost::asio::io_context io;
  Timer timer(io);
  timer.expires_after(5s);
  bool fired = false;
  timer.async_wait([&](boost::system::error_code ec) { fired = !ec; });
  io.poll();
  EXPECT_FALSE(fired);
  time.advance(4s);
  io.poll();
  EXPECT_FALSE(fired);
  time.advance(1s);
  // The reactor sees the due timer on its next pass (at most 1 ms of real
  // waiting, whatever the manual time).
  while (!fired) io.run_one();
  EXPECT_TRUE(fired);
}

TEST(Clock, FollowsTheSteadyClockOutsideTests) {
  const auto a = Clock::now();
  const auto s = std::chrono::steady_clock::now();
  const auto b = Clock::now();
  EXPECT_LE(a.time_since_epoch(), s.time_since_epoch());
  EXPECT_LE(s.time_since_epoch(), b.time_since_epoch());
}

}  // namespace
}  // namespace trousseau
