#include "common/completion.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <memory>

#include "common/error.hpp"
#include "support/wait.hpp"

namespace trousseau {
namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::thread_pool::executor_type>;

TEST(CompleteOnExecutor, RunsOnTheHandlersBoundStrand) {
  asio::thread_pool pool(2);
  Strand strand = asio::make_strand(pool);
  asio::io_context fallback;  // never run: the handler must not end up there
  std::promise<std::pair<int, bool>> ran;
  complete_on_executor(asio::bind_executor(strand, [&](int v) {
                         ran.set_value({v, strand.running_in_this_thread()});
                       }),
                       fallback.get_executor(), 7);
  auto [value, on_strand] = ran.get_future().get();
  EXPECT_EQ(value, 7);
  EXPECT_TRUE(on_strand);
}

TEST(CompleteOnExecutor, TypeErasedHandlersKeepTheirStrand) {
  asio::thread_pool pool(2);
  Strand strand = asio::make_strand(pool);
  asio::io_context fallback;
  std::promise<bool> on_strand;
  asio::any_completion_handler<void(Error)> handler =
      asio::bind_executor(strand, [&](Error) { on_strand.set_value(strand.running_in_this_thread()); });
  complete_on_executor(std::move(handler), fallback.get_executor(), Error());
  EXPECT_TRUE(on_strand.get_future().get());
}

TEST(CompleteOnExecutor, UsesTheFallbackWhenTheHandlerHasNone) {
  asio::thread_pool pool(2);
  Strand fallback = asio::make_strand(pool);
  std::promise<bool> on_fallback;
  complete_on_executor([&] { on_fallback.set_value(fallback.running_in_this_thread()); }, fallback);
  EXPECT_TRUE(on_fallback.get_future().get());
}

TEST(CompleteOnExecutor, RunsInlineWhenAlreadyOnTheExecutor) {
  asio::io_context io;
  bool ran = false, inline_run = false;
  asio::post(io, [&] {
    complete_on_executor([&] { ran = true; }, io.get_executor());
    inline_run = ran;
  });
  io.run();
  EXPECT_TRUE(inline_run);
}

TEST(PostCompletion, NeverRunsInlineEvenOnTheHandlersExecutor) {
  asio::io_context io;
  bool ran = false, inline_run = true;
  asio::post(io, [&] {
    post_completion(io.get_executor(), asio::bind_executor(io, [&] { ran = true; }));
    inline_run = ran;
  });
  io.run();
  EXPECT_FALSE(inline_run);
  EXPECT_TRUE(ran);
}

TEST(PostCompletion, ClearsTheSlotBeforeTheHandlerRuns) {
  asio::io_context io;
  asio::cancellation_signal signal;
  int cancels = 0;
  // What an operation installs while it runs.
  signal.slot().assign([&](asio::cancellation_type) { ++cancels; });
  bool slot_had_handler = true;
  int runs = 0;
  post_completion(io.get_executor(), asio::bind_cancellation_slot(signal.slot(), [&](Error e) {
                    EXPECT_TRUE(e.ok());
                    slot_had_handler = signal.slot().has_handler();
                    ++runs;
                  }),
                  Error());
  io.run();
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(slot_had_handler);
  EXPECT_FALSE(signal.slot().has_handler());
  signal.emit(asio::cancellation_type::terminal);
  EXPECT_EQ(cancels, 0) << "a later emit reaches nothing";
}

TEST(PostCompletion, ClearsTheSlotOfATypeErasedHandler) {
  asio::io_context io;
  asio::cancellation_signal signal;
  asio::any_completion_handler<void(Error)> handler =
      asio::bind_cancellation_slot(signal.slot(), [](Error) {});
  // any_completion_handler listens on `signal` and feeds a slot of its own:
  // that is the one an operation assigns, and the one to clear.
  asio::cancellation_slot slot = asio::get_associated_cancellation_slot(handler);
  int cancels = 0;
  slot.assign([&](asio::cancellation_type) { ++cancels; });
  post_completion(io.get_executor(), std::move(handler), Error());
  io.run();
  EXPECT_FALSE(slot.has_handler());
  signal.emit(asio::cancellation_type::terminal);
  EXPECT_EQ(cancels, 0) << "a later emit reaches nothing";
}

/// An operation completed by whichever claims it first: a worker thread
/// with a result, or its cancellation slot (emitted on the caller's strand).
struct RacingCall {
  explicit RacingCall(asio::any_completion_handler<void(Error, int)> h) : handler(std::move(h)) {}
  std::atomic<bool> claimed{false};
  asio::any_completion_handler<void(Error, int)> handler;
  bool claim() { return !claimed.exchange(true, std::memory_order_acq_rel); }
};

TEST(PostCompletion, ARacingCancellationCompletesExactlyOnceOnTheStrand) {
  asio::thread_pool pool(3);
  int results = 0, cancellations = 0;
  for (int i = 0; i < 1000; ++i) {
    Strand strand = asio::make_strand(pool);
    asio::cancellation_signal signal;
    std::atomic<int> runs{0};
    std::atomic<bool> on_strand{false}, slot_empty{false}, emitted{false};
    asio::cancellation_slot slot;
    Error outcome;
    std::promise<std::shared_ptr<RacingCall>> started;
    // Initiation, on the strand like any request.
    asio::post(strand, [&] {
      auto call = std::make_shared<RacingCall>(asio::bind_executor(
          strand, asio::bind_cancellation_slot(signal.slot(), [&](Error e, int) {
            outcome = std::move(e);
            on_strand = strand.running_in_this_thread();
            slot_empty = !slot.has_handler();
            ++runs;
            testkit::notify_waiters();
          })));
      // Like every operation, it listens on its handler's associated slot:
      // for a type-erased handler, one of its own, fed by `signal`.
      slot = asio::get_associated_cancellation_slot(call->handler);
      slot.assign([&pool, call](asio::cancellation_type) {
        if (call->claim()) {
          post_completion(pool.get_executor(), std::move(call->handler),
                          Error(Code::cancelled, "cancelled"), 0);
        }
      });
      started.set_value(call);
    });
    std::shared_ptr<RacingCall> call = started.get_future().get();
    asio::post(pool, [&pool, call] {
      if (call->claim()) post_completion(pool.get_executor(), std::move(call->handler), Error(), 1);
    });
    asio::post(strand, [&] {
      signal.emit(asio::cancellation_type::terminal);
      emitted = true;
      testkit::notify_waiters();
    });
    ASSERT_TRUE(testkit::wait_until([&] { return runs.load() == 1 && emitted.load(); }));
    // Anything still queued on the strand runs before this.
    std::promise<void> drained;
    asio::post(strand, [&] {
      signal.emit(asio::cancellation_type::terminal);  // reaches nothing now
      drained.set_value();
    });
    drained.get_future().wait();
    ASSERT_EQ(runs.load(), 1);
    EXPECT_TRUE(on_strand.load());
    EXPECT_TRUE(slot_empty.load());
    (outcome.ok() ? results : cancellations) += 1;
  }
  EXPECT_EQ(results + cancellations, 1000);
}

}  // namespace
}  // namespace trousseau
