#include "common/waiter_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "support/wait.hpp"

namespace trousseau {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Queue = WaiterQueue<void(Error, int)>;

const Error kGone(Code::cancelled, "gone while queued");
const Error kLate(Code::deadline_exceeded, "late while queued");

/// What each waiter was completed with, by waiter number.
struct Outcomes {
  std::vector<std::vector<std::pair<Code, int>>> calls;
  explicit Outcomes(int n) : calls(n) {}
  auto handler(int n) {
    return [this, n](Error e, int v) { calls[n].emplace_back(e.code(), v); };
  }
};

TEST(WaiterQueue, TakesWaitersOldestFirst) {
  asio::io_context io;
  Queue queue(io.get_executor(), kGone);
  Outcomes out(3);
  std::vector<std::uint64_t> ids;
  for (int n = 0; n < 3; ++n) ids.push_back(queue.push(out.handler(n)));
  EXPECT_EQ(queue.size(), 3u);
  for (int n = 0; n < 3; ++n) {
    auto w = queue.take_oldest();
    ASSERT_TRUE(w);
    EXPECT_EQ(w->id, ids[n]);
    post_completion(io.get_executor(), std::move(w->handler), Error(), n * 10);
  }
  EXPECT_FALSE(queue.take_oldest());
  EXPECT_TRUE(queue.empty());
  io.run();
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(out.calls[n], (std::vector<std::pair<Code, int>>{{Code::ok, n * 10}}));
  }
}

TEST(WaiterQueue, TakeAllEmptiesTheQueueOldestFirst) {
  asio::io_context io;
  Queue queue(io.get_executor(), kGone);
  Outcomes out(3);
  std::vector<std::uint64_t> ids;
  for (int n = 0; n < 3; ++n) ids.push_back(queue.push(out.handler(n)));
  Queue::Waiters all = queue.take_all();
  EXPECT_TRUE(queue.empty());
  std::vector<std::uint64_t> taken;
  for (auto& w : all) taken.push_back(w.id);
  EXPECT_EQ(taken, ids);
  EXPECT_TRUE(queue.take_all().empty());
}

TEST(WaiterQueue, TakeIfTakesTheMatchingWaitersAndLeavesTheRestInOrder) {
  asio::io_context io;
  Queue queue(io.get_executor(), kGone);
  Outcomes out(4);
  for (int n = 0; n < 4; ++n) queue.push(out.handler(n));
  std::vector<std::uint64_t> seen;
  Queue::Waiters odd = queue.take_if([&](const Queue::Waiter& w) {
    seen.push_back(w.id);
    return w.id % 2 == 1;
  });
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{0, 1, 2, 3}));
  ASSERT_EQ(odd.size(), 2u);
  EXPECT_EQ(odd.front().id, 1u);
  EXPECT_EQ(odd.back().id, 3u);
  EXPECT_EQ(queue.take_oldest()->id, 0u);
  EXPECT_EQ(queue.take_oldest()->id, 2u);
}

TEST(WaiterQueue, ACancellationRemovesExactlyThatWaiterAndCompletesItOnce) {
  asio::io_context io;
  Queue queue(io.get_executor(), kGone);
  asio::cancellation_signal signals[3];
  // The slots the queue listens on: a type-erased handler feeds one of its
  // own from the caller's signal.
  asio::cancellation_slot slots[3];
  std::vector<std::pair<Error, int>> calls[3];
  for (int n = 0; n < 3; ++n) {
    Queue::Handler h = asio::bind_cancellation_slot(
        signals[n].slot(), [&, n](Error e, int v) { calls[n].emplace_back(std::move(e), v); });
    slots[n] = asio::get_associated_cancellation_slot(h);
    queue.push(std::move(h));
    EXPECT_TRUE(slots[n].has_handler());
  }
  signals[1].emit(asio::cancellation_type::terminal);
  EXPECT_TRUE(calls[1].empty()) << "never inline";
  io.run();
  io.restart();
  ASSERT_EQ(calls[1].size(), 1u);
  EXPECT_EQ(calls[1][0].first.code(), Code::cancelled);
  EXPECT_EQ(calls[1][0].first.message(), "gone while queued");
  EXPECT_EQ(calls[1][0].second, 0);
  EXPECT_FALSE(slots[1].has_handler()) << "cleared on completion";
  signals[1].emit(asio::cancellation_type::terminal);
  io.run();
  io.restart();
  EXPECT_EQ(calls[1].size(), 1u);

  Queue::Waiters rest = queue.take_all();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest.front().id, 0u);
  EXPECT_EQ(rest.back().id, 2u);
  for (auto& w : rest) post_completion(io.get_executor(), std::move(w.handler), Error(), 7);
  io.run();
  io.restart();
  // A served waiter's slot is cleared too: a late cancellation reaches nothing.
  EXPECT_FALSE(slots[0].has_handler());
  signals[0].emit(asio::cancellation_type::terminal);
  io.run();
  EXPECT_EQ(calls[0].size(), 1u);
  EXPECT_TRUE(calls[0][0].first.ok());
  EXPECT_EQ(calls[2].size(), 1u);
}

TEST(WaiterQueue, RemoveTakesThatWaiterOnlyAndACancellationThenFindsNothing) {
  asio::io_context io;
  Queue queue(io.get_executor(), kGone);
  asio::cancellation_signal signal;
  Outcomes out(2);
  queue.push(out.handler(0));
  const std::uint64_t id = queue.push(asio::bind_cancellation_slot(signal.slot(), out.handler(1)));
  auto w = queue.remove(id);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->id, id);
  EXPECT_FALSE(queue.remove(id));
  EXPECT_EQ(queue.size(), 1u);
  signal.emit(asio::cancellation_type::terminal);  // before its taker completes it
  io.run();
  io.restart();
  EXPECT_TRUE(out.calls[1].empty());
  post_completion(io.get_executor(), std::move(w->handler), Error(), 5);
  io.run();
  EXPECT_EQ(out.calls[1], (std::vector<std::pair<Code, int>>{{Code::ok, 5}}));
  EXPECT_TRUE(out.calls[0].empty());
}

/// Runs an io_context on its own thread until destroyed.
struct IoThread {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

TEST(WaiterQueue, AWaiterPastItsDeadlineCompletesWithTheExpiredError) {
  ManualTime time;
  IoThread t;
  Queue queue(t.io.get_executor(), kGone, kLate);
  std::atomic<int> soon{0}, later{0};
  std::promise<Error> soon_error;
  queue.push(
      [&](Error e, int) {
        ++soon;  // before the promise: its value releases the test thread
        soon_error.set_value(std::move(e));
        testkit::notify_waiters();
      },
      Clock::now() + 1s);
  queue.push([&](Error, int) { ++later; }, Clock::now() + 2s);
  time.advance(1s);
  Error e = soon_error.get_future().get();
  EXPECT_EQ(e.code(), Code::deadline_exceeded);
  EXPECT_EQ(e.message(), "late while queued");
  ASSERT_TRUE(testkit::wait_until([&] { return queue.size() == 1; }));
  auto w = queue.take_oldest();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->deadline, Clock::now() + 1s);
  EXPECT_EQ(later.load(), 0);
  EXPECT_EQ(soon.load(), 1);
}

TEST(WaiterQueue, AWaiterThatLeavesStopsItsDeadlineTimer) {
  ManualTime time;
  asio::io_context io;
  Queue queue(io.get_executor(), kGone, kLate);
  Outcomes out(1);
  queue.push(out.handler(0), Clock::now() + 1h);
  auto w = queue.take_oldest();
  ASSERT_TRUE(w);
  post_completion(io.get_executor(), std::move(w->handler), Error(), 1);
  // With the timer still armed, run() would wait for the hour that never
  // comes under stopped time.
  std::thread runner([&] { io.run(); });
  const bool returned = testkit::wait_until([&] { return io.stopped(); });
  io.stop();
  runner.join();
  EXPECT_TRUE(returned) << "the deadline timer outlived its waiter";
  EXPECT_EQ(out.calls[0], (std::vector<std::pair<Code, int>>{{Code::ok, 1}}));
}

TEST(WaiterQueue, AnEmitAfterTheQueueIsGoneDoesNothing) {
  asio::io_context io;
  asio::cancellation_signal signal;
  Outcomes out(1);
  {
    Queue queue(io.get_executor(), kGone);
    queue.push(asio::bind_cancellation_slot(signal.slot(), out.handler(0)));
  }
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  EXPECT_TRUE(out.calls[0].empty());
}

TEST(WaiterQueue, ARacingCancellationCompletesEachWaiterExactlyOnce) {
  asio::thread_pool pool(3);
  Queue queue(pool.get_executor(), kGone);
  constexpr int kRounds = 1000;
  int served = 0, cancelled = 0;
  for (int i = 0; i < kRounds; ++i) {
    auto strand = asio::make_strand(pool);
    asio::cancellation_signal signal;
    std::atomic<int> runs{0};
    std::atomic<bool> emitted{false}, taker_done{false}, on_strand{false};
    Code code = Code::internal;
    asio::cancellation_slot slot;  // the type-erased handler's own
    std::promise<void> pushed;
    // Pushed from the strand that emits the slot, as a request would.
    asio::post(strand, [&] {
      Queue::Handler h = asio::bind_executor(
          strand, asio::bind_cancellation_slot(signal.slot(), [&](Error e, int) {
            code = e.code();
            on_strand = strand.running_in_this_thread();
            ++runs;
            testkit::notify_waiters();
          }));
      slot = asio::get_associated_cancellation_slot(h);
      queue.push(std::move(h));
      pushed.set_value();
    });
    pushed.get_future().wait();
    asio::post(pool, [&] {
      if (auto w = queue.take_oldest()) {
        post_completion(pool.get_executor(), std::move(w->handler), Error(), 1);
      }
      taker_done = true;
      testkit::notify_waiters();
    });
    asio::post(strand, [&] {
      signal.emit(asio::cancellation_type::terminal);
      emitted = true;
      testkit::notify_waiters();
    });
    ASSERT_TRUE(testkit::wait_until(
        [&] { return runs.load() == 1 && emitted.load() && taker_done.load(); }));
    std::promise<bool> slot_empty;
    asio::post(strand, [&] { slot_empty.set_value(!slot.has_handler()); });
    EXPECT_TRUE(slot_empty.get_future().get());
    ASSERT_EQ(runs.load(), 1);
    EXPECT_TRUE(on_strand.load());
    EXPECT_TRUE(queue.empty());
    (code == Code::ok ? served : cancelled) += 1;
    EXPECT_TRUE(code == Code::ok || code == Code::cancelled);
  }
  EXPECT_EQ(served + cancelled, kRounds);
}

}  // namespace
}  // namespace trousseau
