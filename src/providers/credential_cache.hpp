// A credential that a provider fetches from an identity service (an STS
// session for AWS, an Entra or Google OAuth token): one fetch at a time, cached
// and shared by every caller until it expires.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

#include "common/clock.hpp"
#include "common/completion.hpp"
#include "common/error.hpp"
#include "common/waiter_queue.hpp"

namespace trousseau::providers {

/// What a caller gets, by the cached credential's state:
///  * fresh: served at once;
///  * due (inside its refresh margin, not yet expired): served at once, and
///    one fetch starts in the background;
///  * expired or none: the caller waits for the fetch in flight, or starts
///    one, until it answers, the caller's deadline or its cancellation.
/// A failed fetch is remembered for `hold_off`: callers fail at once with
/// its error instead of hammering the identity service. A fetch that only
/// ran out of time (the budget of the caller that started it) says nothing
/// about the service and sets no hold-off: the waiters with time left try
/// again, within the latest of their deadlines; the others fail.
///
/// Thread-safe. The owner fetches: get() returns true when the caller must
/// start a fetch, and every fetch ends with one complete().
template <typename T>  ///< a std::shared_ptr<const …>
class CredentialCache {
 public:
  using Signature = void(Error, T);
  using Handler = boost::asio::any_completion_handler<Signature>;
  enum class Freshness { expired, due, fresh };

  /// `cancelled` and `expired` complete the waiters that leave the queue by
  /// cancellation or at their deadline.
  CredentialCache(boost::asio::any_io_executor executor, Clock::duration hold_off, Error cancelled,
                  Error expired)
      : executor_(std::move(executor)),
        hold_off_(hold_off),
        waiters_(executor_, std::move(cancelled), std::move(expired)) {}

  /// Serves or queues `handler` (completed through post_completion, never
  /// inline). True when the caller must now start a fetch within `deadline`,
  /// outside any lock of its own.
  bool get(Clock::time_point deadline, Handler handler,
           const std::function<Freshness(const T&)>& classify) {
    const Clock::time_point now = Clock::now();
    std::unique_lock lock(mutex_);
    if (current_) {
      const Freshness f = classify(current_);
      if (f != Freshness::expired) {
        T c = current_;
        const bool start = f == Freshness::due && !fetching_ && now >= retry_after_;
        if (start) fetching_ = true;
        lock.unlock();
        post_completion(executor_, std::move(handler), Error(), std::move(c));
        return start;  // in the background: this caller does not wait
      }
    }
    if (!fetching_ && now < retry_after_) {
      Error e = last_error_;
      lock.unlock();
      post_completion(executor_, std::move(handler), std::move(e), T());
      return false;
    }
    // Queued under the lock, so that a caller waits only while a fetch runs.
    waiters_.push(std::move(handler), deadline);
    const bool start = !fetching_;
    fetching_ = true;
    return start;
  }

  /// Ends the fetch that get() asked for: `fresh` on success, else the
  /// error. Serves or fails the waiters. Returns a deadline when the caller
  /// must fetch again (it only ran out of time, and waiters have time left).
  std::optional<Clock::time_point> complete(const Error& error, T fresh) {
    typename WaiterQueue<Signature>::Waiters served;
    std::optional<Clock::time_point> again;
    {
      std::lock_guard lock(mutex_);
      fetching_ = false;
      if (fresh) {
        current_ = fresh;
        retry_after_ = {};
        last_error_ = {};
        served = waiters_.take_all();
      } else if (error.code() == Code::deadline_exceeded) {
        // Waiters whose own deadline has come fail now (their timers may
        // not have run yet); the rest try again.
        const Clock::time_point now = Clock::now();
        served = waiters_.take_if([&](const auto& w) {
          if (w.deadline <= now) return true;
          if (!again || *again < w.deadline) again = w.deadline;
          return false;
        });
        fetching_ = again.has_value();
      } else {
        retry_after_ = Clock::now() + hold_off_;
        last_error_ = error;
        served = waiters_.take_all();
      }
    }
    for (auto& w : served) {
      post_completion(executor_, std::move(w.handler), fresh ? Error() : error, fresh);
    }
    return again;
  }

  /// Forgets the cached credential (a service refused it); with `only`, only
  /// while it is still that one (a newer one may have replaced it).
  void invalidate(const T* only = nullptr) {
    std::lock_guard lock(mutex_);
    if (only == nullptr || current_ == *only) current_.reset();
  }

 private:
  boost::asio::any_io_executor executor_;
  const Clock::duration hold_off_;
  std::mutex mutex_;  ///< guards the members below, and is held around waiters_ pushes
  T current_;
  bool fetching_ = false;
  Error last_error_;
  Clock::time_point retry_after_{};
  WaiterQueue<Signature> waiters_;
};

}  // namespace trousseau::providers
