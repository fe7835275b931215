#include "quorum/limiter.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

namespace trousseau::quorum {
namespace {

namespace asio = boost::asio;

TEST(Limiter, AdmitsUpToTheBoundQueuesThenRejects) {
  asio::io_context io;
  Limiter limiter("p", 2, 1, io.get_executor());
  std::vector<Permit> held;
  std::vector<Code> codes;
  auto take = [&](Error e, Permit p) {
    codes.push_back(e.code());
    if (p.held()) held.push_back(std::move(p));
  };
  for (int i = 0; i < 4; ++i) limiter.async_acquire(take);
  io.run();
  io.restart();
  ASSERT_EQ(codes.size(), 3u);  // two admitted, one rejected, one waiting
  EXPECT_EQ(codes[0], Code::ok);
  EXPECT_EQ(codes[1], Code::ok);
  EXPECT_EQ(codes[2], Code::resource_exhausted);
  EXPECT_EQ(limiter.queued(), 1u);
  held.erase(held.begin());  // a release admits the waiter
  io.run();
  ASSERT_EQ(codes.size(), 4u);
  EXPECT_EQ(codes[3], Code::ok);
  EXPECT_EQ(limiter.in_flight(), 2u);
  held.clear();
  EXPECT_EQ(limiter.in_flight(), 0u);
}

TEST(Limiter, TryAcquireGrantsBelowTheBoundAndNeverJumpsTheQueue) {
  asio::io_context io;
  Limiter limiter("p", 1, 4, io.get_executor());
  std::optional<Permit> first = limiter.try_acquire();
  ASSERT_TRUE(first && first->held());
  EXPECT_FALSE(limiter.try_acquire());  // at the bound
  std::vector<Permit> waited;
  limiter.async_acquire([&](Error e, Permit p) {
    EXPECT_TRUE(e.ok());
    waited.push_back(std::move(p));
  });
  io.run();
  io.restart();
  EXPECT_EQ(limiter.queued(), 1u);
  first.reset();  // the release goes to the waiter, not to a later try
  EXPECT_FALSE(limiter.try_acquire());
  io.run();
  ASSERT_EQ(waited.size(), 1u);
  waited.clear();
  EXPECT_EQ(limiter.in_flight(), 0u);
  EXPECT_TRUE(limiter.try_acquire());
}

TEST(Limiter, CancelledWaiterLeavesTheQueue) {
  asio::io_context io;
  Limiter limiter("p", 1, 4, io.get_executor());
  std::vector<Permit> held;
  std::vector<Code> codes;
  asio::cancellation_signal signal;
  limiter.async_acquire([&](Error e, Permit p) {
    codes.push_back(e.code());
    held.push_back(std::move(p));
  });
  limiter.async_acquire(asio::bind_cancellation_slot(signal.slot(), [&](Error e, Permit p) {
    codes.push_back(e.code());
    EXPECT_FALSE(p.held());
  }));
  io.run();
  io.restart();
  EXPECT_EQ(limiter.queued(), 1u);
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[1], Code::cancelled);
  EXPECT_EQ(limiter.queued(), 0u);
}

}  // namespace
}  // namespace trousseau::quorum
