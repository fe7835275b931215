// Runs a blocking call on a provider's own thread pool and completes an
// async operation with its result, honouring the completion contract in
// providers/provider.hpp (never inline, on the handler's executor, exactly
// once, promptly on cancellation).
#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>
#include <tuple>

#include "common/clock.hpp"
#include "common/completion.hpp"
#include "common/error.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::pkcs11 {

namespace asio = boost::asio;

/// One operation in flight. Whoever claims it first, the pool thread with a
/// result or the cancellation slot's handler, completes the handler; the
/// other does nothing.
template <typename... Ts>
class BlockingCall {
 public:
  using Handler = asio::any_completion_handler<void(Error, Ts...)>;

  BlockingCall(Handler handler, asio::any_io_executor io)
      : handler_(std::move(handler)), io_(std::move(io)) {}

  bool claim() { return !claimed_.exchange(true, std::memory_order_acq_rel); }
  bool claimed() const { return claimed_.load(std::memory_order_acquire); }

  /// Only after claim() returned true. The slot is cleared on the handler's
  /// executor, where it is emitted, just before the handler runs.
  void complete(Error error, Ts... values) {
    post_completion(io_, std::move(handler_), std::move(error), std::move(values)...);
  }

  asio::cancellation_slot slot() const { return asio::get_associated_cancellation_slot(handler_); }

 private:
  std::atomic<bool> claimed_{false};
  Handler handler_;
  asio::any_io_executor io_;
};

/// The provider's threads for blocking calls, and the bound on the calls
/// waiting for one: at most `threads + max_waiting` calls are admitted at
/// once (running, queued, or queued but cancelled and not yet skipped).
/// A call beyond that is refused, so a stuck token cannot pile up work
/// without limit behind it.
class BlockingPool {
 public:
  BlockingPool(unsigned threads, unsigned max_waiting)
      : pool_(threads), threads_(threads), max_waiting_(max_waiting) {}
  ~BlockingPool() { join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  /// Lets queued calls finish (or skip, if cancelled or late).
  void join() { pool_.join(); }

  /// Takes a place for one call; false when all are taken.
  bool try_admit() {
    unsigned n = admitted_.load(std::memory_order_relaxed);
    do {
      if (n >= threads_ + max_waiting_) return false;
    } while (!admitted_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  /// Gives back the place of a call that returned or was skipped.
  void release() { admitted_.fetch_sub(1, std::memory_order_relaxed); }

  Error busy() const {
    return Error(Code::resource_exhausted, "all " + std::to_string(threads_) +
                                               " PKCS#11 threads are busy and " +
                                               std::to_string(max_waiting_) +
                                               " calls wait for one (thread_queue)");
  }

  asio::thread_pool& executor_pool() { return pool_; }

 private:
  asio::thread_pool pool_;
  const unsigned threads_;
  const unsigned max_waiting_;
  std::atomic<unsigned> admitted_{0};
};

/// Starts `work` (returning std::tuple<Error, Ts...>) on `pool`, completing
/// `handler` through `io`, never inline. When the pool has no place left
/// (BlockingPool::try_admit) the handler gets Code::resource_exhausted at
/// once. A cancellation emitted on the handler's slot completes it with
/// Code::cancelled at once: a call not yet started is skipped, one already
/// running has its result discarded. A call still queued at
/// `options.deadline` is skipped with Code::deadline_exceeded.
/// `options.lease` is held until the device has really returned (or the
/// call was skipped), so back-pressure counts the work the HSM is doing,
/// not the answers we are still waiting for.
template <typename... Ts, typename Work>
void run_blocking(BlockingPool& pool, const asio::any_io_executor& io, const CallOptions& options,
                  asio::any_completion_handler<void(Error, Ts...)> handler, Work work) {
  if (!pool.try_admit()) {
    post_completion(io, std::move(handler), pool.busy(), Ts{}...);
    return;
  }
  auto call = std::make_shared<BlockingCall<Ts...>>(std::move(handler), io);
  if (asio::cancellation_slot slot = call->slot(); slot.is_connected()) {
    slot.assign([call](asio::cancellation_type type) {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total)) == asio::cancellation_type::none) {
        return;
      }
      if (call->claim()) call->complete(Error(Code::cancelled, "cancelled"), Ts{}...);
    });
  }
  asio::post(pool.executor_pool(), [&pool, call, work = std::move(work),
                                    deadline = options.deadline, lease = options.lease]() mutable {
    struct Release {
      BlockingPool& pool;
      ~Release() { pool.release(); }
    } release{pool};
    if (call->claimed()) return;  // cancelled before it started
    if (Clock::now() >= deadline) {
      if (call->claim()) {
        call->complete(Error(Code::deadline_exceeded, "the call's deadline passed in the queue"),
                       Ts{}...);
      }
      return;
    }
    std::tuple<Error, Ts...> result;
    try {
      result = work();
    } catch (const std::bad_alloc&) {  // locked memory ran out: an answer, not an abort
      result = {Error(Code::resource_exhausted, "locked memory for secrets is exhausted"), Ts{}...};
    }
    if (!call->claim()) return;  // cancelled while running: the result is dropped
    std::apply([&](auto&&... r) { call->complete(std::move(r)...); }, std::move(result));
  });
}

}  // namespace trousseau::providers::pkcs11
