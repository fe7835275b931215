// What Encrypt and Decrypt operations share: per-call bookkeeping, limits,
// timeouts, the request deadline and cancellation. Internal to the engine.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/log.hpp"
#include "quorum/engine.hpp"
#include "quorum/observer.hpp"

namespace trousseau::quorum::detail {

inline std::string millis(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

/// One (slot, provider) pair of a request.
struct Call {
  Call(ManagedProvider* p, std::size_t s) : provider(p), slot(s) {}
  enum class State { idle, acquiring, running, done };

  ManagedProvider* provider;
  std::size_t slot;
  State state = State::idle;
  asio::cancellation_signal signal;
  std::optional<Timer> timeout;
  std::optional<Timer> hedge;
  Clock::time_point queued{};   ///< asked the limiter for a permit
  Clock::time_point started{};  ///< the provider was called
  Clock::time_point expires{};  ///< min(request deadline, queued + provider timeout)
  bool timed_out = false;       ///< the provider's own timeout ended it
  bool hedged = false;          ///< a hedge was started because this call was slow
  bool is_hedge = false;        ///< this call is such a hedge

  bool active() const { return state == State::acquiring || state == State::running; }
};

/// Everything below runs on the request's strand.
class Operation : public std::enable_shared_from_this<Operation> {
 public:
  Operation(Engine& engine, CallKind kind, Strand strand, RequestInfo request)
      : keep_(engine.weak_from_this().lock()), engine_(engine), kind_(kind),
        strand_(std::move(strand)), deadline_(request.deadline),
        request_id_(std::move(request.id)), trace_(std::move(request.trace)),
        deadline_timer_(strand_) {}
  virtual ~Operation() = default;

  /// Runs one step of the operation on its strand. Secret memory is bounded,
  /// so any step may meet std::bad_alloc; it ends this request, never the
  /// io thread (an exception escaping a handler would abort the process).
  template <typename F>
  void guarded(F&& step) {
    try {
      std::forward<F>(step)();
    } catch (const std::bad_alloc&) {
      if (!finished_) on_out_of_memory();
    }
  }

  /// Runs the operation's first step (guarded): the timers it asks for wait
  /// until the answers that come at once (a key file's) have been handled.
  template <typename F>
  void first_turn(F&& start) {
    ++holding_waits_;
    guarded(std::forward<F>(start));
    if (--holding_waits_ == 0) schedule_waits();
  }

 protected:
  /// Waits for a permit from the call's provider, then runs
  /// `launch(options, handler)`, which must start one provider operation
  /// completing with `void(Error, T)`. `done(call, error, result)` follows on
  /// the strand, unless the request has finished or its deadline has passed
  /// (then on_deadline() answers for every call).
  ///
  /// The provider's timeout counts from the moment the call is queued, so a
  /// saturated provider cannot hold a request in its queue: the wait ends
  /// with RESOURCE_EXHAUSTED, which says nothing about the provider's health.
  template <typename T, typename Launch, typename Done>
  void start_call(Call& call, Launch launch, Done done);

  /// Installs the caller's cancellation and arms the request deadline.
  template <typename Handler>
  void begin(Handler& handler) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      std::weak_ptr<Operation> weak = shared_from_this();
      slot.assign([weak](asio::cancellation_type) {
        if (auto self = weak.lock(); self && !self->finished_) self->on_cancel();
      });
    }
    deadline_timer_.expires_at(deadline_);
    wait_soon(deadline_timer_, nullptr, [this](boost::system::error_code ec) {
      if (!ec && !finished_) on_deadline();
    });
  }

  /// Waits on `timer` with `handler` from the strand's next turn, unless by
  /// then the request has finished or `call` (when given) has ended. Within
  /// first_turn(), from the turn after it.
  ///
  /// A request answered in the turn that started it (a key file answers at
  /// once) then never touches the io_context's timer queue: a timer armed
  /// and cancelled costs a wake-up of an io thread, which is more than the
  /// rest of such a request costs. The timers' expiry times are absolute,
  /// so waiting a turn later changes none of them.
  ///
  /// `handler` may capture `this` and the call: the operation is kept alive
  /// while the timer waits.
  void wait_soon(Timer& timer, const Call* call,
                 std::function<void(boost::system::error_code)> handler) {
    if (finished_) return;  // nothing is waited for once the request has answered
    pending_waits_.push_back({&timer, call, std::move(handler)});
    if (holding_waits_ == 0) schedule_waits();
  }

  /// Marks the request finished and cancels every outstanding call.
  template <typename Handler>
  void end(Handler& handler) {
    finished_ = true;
    pending_waits_.clear();
    deadline_timer_.cancel();
    for (Call& c : calls_) {
      if (c.active()) c.signal.emit(asio::cancellation_type::terminal);
      if (c.timeout) c.timeout->cancel();
      if (c.hedge) c.hedge->cancel();
    }
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
  }

  virtual void on_deadline() = 0;
  virtual void on_cancel() = 0;
  /// Locked memory ran out while this request worked: answer it with
  /// RESOURCE_EXHAUSTED; the process keeps serving.
  virtual void on_out_of_memory() = 0;

  bool past_deadline() const { return Clock::now() >= deadline_; }

  // The engine's bookkeeping, which only operations may touch.
  std::string note_degraded(const std::vector<std::string>& missing) {
    return engine_.note_degraded(missing);
  }
  void note_hedge(const Call& slow) {
    engine_.note_hedge();
    slow.provider->observer().hedge_started();
    if (trace_) ++trace_->hedges;
  }
  void note_bad_share(ManagedProvider& provider) {
    engine_.note_bad_share();
    provider.observer().bad_share();
  }
  void note_combination() { engine_.note_combination(); }
  void note_legacy_read() { engine_.note_legacy_read(); }
  void note_quorum(QuorumKind kind, QuorumResult result) { engine_.observer().quorum(kind, result); }
  /// The providers that served the request, for its log line.
  void note_served(std::vector<std::string> providers) {
    if (trace_) trace_->served = std::move(providers);
  }

  /// Every provider call that ends, however it ends: metrics, and a debug
  /// line joined to the request by its id.
  void observe(const Call& call, const Error& e, Clock::duration latency) const {
    const CallOutcome outcome = outcome_of(e);
    call.provider->observer().call(kind_, outcome, latency);
    if (log::enabled(log::Level::debug)) {
      log::debug("provider call",
                 {{"request", request_id_},
                  {"provider", call.provider->name()},
                  {"operation", to_string(kind_)},
                  {"outcome", to_string(outcome)},
                  {"latency_us", std::chrono::duration_cast<std::chrono::microseconds>(latency).count()},
                  {"hedge", call.is_hedge},
                  {"error", e.message()}});
    }
  }

  std::size_t active_calls() const {
    std::size_t n = 0;
    for (const Call& c : calls_) n += c.active() ? 1 : 0;
    return n;
  }

  std::shared_ptr<const Engine> keep_;  ///< null when the engine is not shared-owned
  Engine& engine_;
  const CallKind kind_;
  Strand strand_;
  Clock::time_point deadline_;
  std::string request_id_;
  std::shared_ptr<RequestTrace> trace_;  ///< null when the caller wants none
  Timer deadline_timer_;
  std::deque<Call> calls_;  // deque: stable addresses
  bool finished_ = false;
  std::vector<std::pair<std::string, Error>> failures_;

 private:
  struct PendingWait {
    Timer* timer;
    const Call* call;
    std::function<void(boost::system::error_code)> handler;
  };

  void schedule_waits() {
    if (waits_scheduled_ || pending_waits_.empty()) return;
    waits_scheduled_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->guarded([&] { self->arm_waits(); }); });
  }

  void arm_waits() {
    waits_scheduled_ = false;
    std::vector<PendingWait> waits = std::exchange(pending_waits_, {});
    if (finished_) return;
    for (PendingWait& w : waits) {
      if (w.call != nullptr && !w.call->active()) continue;
      w.timer->async_wait([self = shared_from_this(), h = std::move(w.handler)](
                              boost::system::error_code ec) { h(ec); });
    }
  }

  std::vector<PendingWait> pending_waits_;
  int holding_waits_ = 0;
  bool waits_scheduled_ = false;
};

template <typename T, typename Launch, typename Done>
void Operation::start_call(Call& call, Launch launch, Done done) {
  call.state = Call::State::acquiring;
  call.queued = Clock::now();
  call.expires = std::min(deadline_, call.queued + call.provider->timeout());
  auto self = shared_from_this();
  call.timeout.emplace(strand_, call.expires);
  auto granted = [self, &call, launch = std::move(launch),
                  done = std::move(done)](Error err, Permit permit) mutable {
       self->guarded([&] {
        if (!err.ok()) {
          call.state = Call::State::done;
          if (call.timeout) call.timeout->cancel();
          if (call.hedge) call.hedge->cancel();
          if (self->finished_) return;
          if (call.timed_out) {
            err = Error(Code::resource_exhausted,
                        "no free call slot within " + detail::millis(call.provider->timeout()) +
                            " (" + std::to_string(call.provider->limiter().in_flight()) +
                            " calls in flight)");
          }
          self->observe(call, err, Clock::duration::zero());
          done(call, std::move(err), T{});
          return;
        }
        if (self->finished_ || !call.active()) {  // granted just as it ended
          call.state = Call::State::done;
          return;
        }
        call.state = Call::State::running;
        call.started = Clock::now();
        // The engine's reference frees the permit when the provider answers;
        // a blocking provider keeps its own until the backend returns.
        auto lease = std::make_shared<Permit>(std::move(permit));
        launch(providers::CallOptions{call.expires, lease, self->request_id_},
               asio::bind_cancellation_slot(
                   call.signal.slot(),
                   asio::bind_executor(self->strand_, [self, &call, lease,
                                                       done](Error e, T result) mutable {
                     lease.reset();
                     call.state = Call::State::done;
                     if (call.timeout) call.timeout->cancel();
                     if (call.hedge) call.hedge->cancel();
                     const auto latency = Clock::now() - call.started;
                     if (call.timed_out && (e.code() == Code::cancelled ||
                                            e.code() == Code::deadline_exceeded)) {
                       e = Error(Code::deadline_exceeded,
                                 "no answer within " + detail::millis(call.provider->timeout()));
                     }
                     self->observe(call, e, latency);
                     if (self->finished_) return;
                     const bool request_deadline = !e.ok() && self->past_deadline();
                     if (e.ok()) {
                       call.provider->record_success(latency);
                     } else if (!request_deadline) {
                       // A request that ran out of time says nothing about
                       // the provider; only its own timeout does.
                       call.provider->record_failure(e);
                     }
                     if (request_deadline) {
                       self->failures_.emplace_back(call.provider->name(), std::move(e));
                       self->on_deadline();
                       return;
                     }
                     self->guarded([&] { done(call, std::move(e), std::move(result)); });
                   })));
       });
  };
  // A free slot is taken here, on the strand, without a trip through the
  // io_context; a full limiter queues the call.
  if (std::optional<Permit> permit = call.provider->limiter().try_acquire()) {
    granted(Error(), std::move(*permit));
  } else {
    call.provider->limiter().async_acquire(asio::bind_cancellation_slot(
        call.signal.slot(), asio::bind_executor(strand_, std::move(granted))));
  }
  // After the call has started: an answer that came at once is handled
  // before the timeout would be armed.
  wait_soon(*call.timeout, &call, [this, &call](boost::system::error_code ec) {
    if (ec || !call.active() || finished_) return;
    if (call.expires >= deadline_) {
      // The request's own deadline: one answer for the whole request,
      // whichever of the two timers fired first.
      on_deadline();
      return;
    }
    call.timed_out = true;
    call.signal.emit(asio::cancellation_type::terminal);
  });
}

}  // namespace trousseau::quorum::detail
