// Callers waiting for something that one of them, or another component,
// will hand out later: a permit, fresh credentials.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "common/clock.hpp"
#include "common/completion.hpp"
#include "common/error.hpp"

namespace trousseau {

template <typename Signature>
class WaiterQueue;

/// A FIFO of handlers of signature void(Error, Ts...). A waiter leaves it
/// in exactly one way:
///  1. Taken by the owner (take_oldest, take_all, take_if, remove), who then
///     completes it, normally with post_completion().
///  2. Cancelled: any cancellation emitted on the handler's associated slot
///     removes it and completes it with the queue's `cancelled` error and
///     default-constructed values.
///  3. Expired: at its deadline, if it has one, it is removed and completed
///     with the queue's `expired` error. The timer stops when the waiter
///     leaves in another way.
/// Whichever comes first wins, under the queue's lock; the others find no
/// waiter and do nothing. Completions by the queue itself go through
/// post_completion(executor): on the handler's executor, never inline, slot
/// cleared.
///
/// Synchronisation: every member is thread-safe, under a mutex of the
/// queue's own, which the cancellation and deadline handlers take too. The
/// queue never completes, destroys a handler or touches a slot while
/// holding it, so an owner may call it under its own lock (lock order:
/// the owner's, then the queue's) to keep the queue consistent with its
/// own state, as the limiter does with its in-flight count.
///
/// push() must be called, as any initiating function, from the context that
/// emits the handler's slot (the request's strand), since it assigns it.
///
/// Destroying the queue destroys the waiters still in it without completing
/// them; later emits on their slots do nothing.
template <typename... Ts>
class WaiterQueue<void(Error, Ts...)> {
 public:
  using Handler = boost::asio::any_completion_handler<void(Error, Ts...)>;
  static constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

  class Waiter {
   public:
    Waiter(std::uint64_t i, Handler h, Clock::time_point d)
        : id(i), handler(std::move(h)), deadline(d) {}
    Waiter(Waiter&&) = default;
    /// Moving an any_completion_handler by assignment recurses forever in
    /// Boost 1.81; not offering it keeps that from compiling.
    Waiter& operator=(Waiter&&) = delete;

    std::uint64_t id;
    Handler handler;
    Clock::time_point deadline;

   private:
    friend class WaiterQueue;
    std::optional<Timer> timer_;
  };
  /// A list: a vector would move-assign its elements.
  using Waiters = std::list<Waiter>;

  /// `executor` runs the deadline timers and the queue's own completions.
  WaiterQueue(boost::asio::any_io_executor executor, Error cancelled,
              Error expired = Error(Code::deadline_exceeded, "deadline exceeded while queued"))
      : core_(std::make_shared<Core>(std::move(executor), std::move(cancelled),
                                     std::move(expired))) {}
  WaiterQueue(const WaiterQueue&) = delete;
  WaiterQueue& operator=(const WaiterQueue&) = delete;

  /// Queues `handler` behind the others and returns its id.
  std::uint64_t push(Handler handler, Clock::time_point deadline = kNoDeadline) {
    const std::uint64_t id = core_->next_id.fetch_add(1, std::memory_order_relaxed);
    std::weak_ptr<Core> weak = core_;
    // Assigned before the waiter can be taken, so that its completion, which
    // clears the slot, comes after. Runs on the emitter's thread.
    boost::asio::cancellation_slot slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([weak, id](boost::asio::cancellation_type type) {
        if (type == boost::asio::cancellation_type::none) return;
        if (auto core = weak.lock()) core->drop(id, core->cancelled);
      });
    }
    std::lock_guard lock(core_->mutex);
    Waiter& w = core_->waiters.emplace_back(id, std::move(handler), deadline);
    if (deadline != kNoDeadline) {
      // Armed under the lock, so that whoever takes the waiter later stops
      // a timer that is already waiting.
      w.timer_.emplace(core_->executor, deadline);
      w.timer_->async_wait([weak, id](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto core = weak.lock()) core->drop(id, core->expired);
      });
    }
    return id;
  }

  /// The waiter queued longest, if any.
  std::optional<Waiter> take_oldest() {
    Waiters out;
    {
      std::lock_guard lock(core_->mutex);
      if (core_->waiters.empty()) return std::nullopt;
      out.splice(out.end(), core_->waiters, core_->waiters.begin());
    }
    return release(std::move(out));
  }

  /// All waiters, oldest first.
  Waiters take_all() {
    Waiters out;
    {
      std::lock_guard lock(core_->mutex);
      out.swap(core_->waiters);
    }
    stop_timers(out);
    return out;
  }

  /// The waiters for which `pred(const Waiter&)` holds, oldest first. `pred`
  /// sees every waiter once, in order, under the queue's lock: it must not
  /// call the queue.
  template <typename Pred>
  Waiters take_if(Pred pred) {
    Waiters out;
    {
      std::lock_guard lock(core_->mutex);
      for (auto it = core_->waiters.begin(); it != core_->waiters.end();) {
        const auto next = std::next(it);
        if (pred(std::as_const(*it))) out.splice(out.end(), core_->waiters, it);
        it = next;
      }
    }
    stop_timers(out);
    return out;
  }

  /// The waiter with this id, unless it has already left.
  std::optional<Waiter> remove(std::uint64_t id) {
    Waiters out;
    {
      std::lock_guard lock(core_->mutex);
      if (!core_->extract(id, out)) return std::nullopt;
    }
    return release(std::move(out));
  }

  std::size_t size() const {
    std::lock_guard lock(core_->mutex);
    return core_->waiters.size();
  }
  bool empty() const { return size() == 0; }

 private:
  /// Shared with the cancellation and deadline handlers, which may outlive
  /// the queue (they hold it weakly).
  struct Core {
    Core(boost::asio::any_io_executor e, Error c, Error x)
        : executor(std::move(e)), cancelled(std::move(c)), expired(std::move(x)) {}

    /// Under the lock.
    bool extract(std::uint64_t id, Waiters& out) {
      for (auto it = waiters.begin(); it != waiters.end(); ++it) {
        if (it->id != id) continue;
        out.splice(out.end(), waiters, it);
        return true;
      }
      return false;
    }

    /// Completes the waiter with `error` if it is still queued.
    void drop(std::uint64_t id, const Error& error) {
      Waiters out;
      {
        std::lock_guard lock(mutex);
        if (!extract(id, out)) return;
      }
      stop_timers(out);
      post_completion(executor, std::move(out.front().handler), error, Ts{}...);
    }

    const boost::asio::any_io_executor executor;
    const Error cancelled;
    const Error expired;
    std::mutex mutex;
    Waiters waiters;
    std::atomic<std::uint64_t> next_id{0};
  };

  /// Out of the queue, a waiter is its taker's alone: its timer, armed
  /// under the lock, can be stopped without it.
  static void stop_timers(Waiters& waiters) {
    for (Waiter& w : waiters) w.timer_.reset();
  }
  static std::optional<Waiter> release(Waiters out) {
    stop_timers(out);
    return std::optional<Waiter>(std::move(out.front()));
  }

  std::shared_ptr<Core> core_;
};

}  // namespace trousseau
