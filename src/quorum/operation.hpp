// What Encrypt and Decrypt operations share: per-call bookkeeping, limits,
// timeouts, the request deadline and cancellation. Internal to the engine.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "quorum/engine.hpp"

namespace trousseau::quorum::detail {

/// One (slot, provider) pair of a request.
struct Call {
  Call(ManagedProvider* p, std::size_t s) : provider(p), slot(s) {}
  enum class State { idle, acquiring, running, done };

  ManagedProvider* provider;
  std::size_t slot;
  State state = State::idle;
  asio::cancellation_signal signal;
  std::optional<asio::steady_timer> timeout;
  std::optional<asio::steady_timer> hedge;
  Clock::time_point started{};
  bool timed_out = false;
  bool hedged = false;

  bool active() const { return state == State::acquiring || state == State::running; }
};

/// Everything below runs on the request's strand.
class Operation : public std::enable_shared_from_this<Operation> {
 public:
  Operation(Engine& engine, Strand strand, Clock::time_point deadline)
      : engine_(engine), strand_(std::move(strand)), deadline_(deadline),
        deadline_timer_(strand_) {}
  virtual ~Operation() = default;

 protected:
  /// Waits for a permit from the call's provider, then runs
  /// `launch(handler)`, which must start one provider operation completing
  /// with `void(Error, T)`. `done(call, error, result)` follows on the strand,
  /// also after the request has finished (check finished_).
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
    deadline_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->finished_) self->on_deadline();
    });
  }

  /// Marks the request finished and cancels every outstanding call.
  template <typename Handler>
  void end(Handler& handler) {
    finished_ = true;
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

  std::size_t active_calls() const {
    std::size_t n = 0;
    for (const Call& c : calls_) n += c.active() ? 1 : 0;
    return n;
  }

  std::string outstanding_names() const {
    std::string out;
    for (const Call& c : calls_) {
      if (!c.active()) continue;
      if (!out.empty()) out += ", ";
      out += c.provider->name();
    }
    return out;
  }

  Engine& engine_;
  Strand strand_;
  Clock::time_point deadline_;
  asio::steady_timer deadline_timer_;
  std::deque<Call> calls_;  // deque: stable addresses
  bool finished_ = false;
  std::vector<std::pair<std::string, Error>> failures_;
};

template <typename T, typename Launch, typename Done>
void Operation::start_call(Call& call, Launch launch, Done done) {
  call.state = Call::State::acquiring;
  auto self = shared_from_this();
  call.provider->limiter().async_acquire(asio::bind_cancellation_slot(
      call.signal.slot(),
      asio::bind_executor(strand_, [self, &call, launch = std::move(launch),
                                    done = std::move(done)](Error err, Permit permit) mutable {
        if (!err.ok()) {
          call.state = Call::State::done;
          done(call, err.prefixed(call.provider->name()), T{});
          return;
        }
        if (self->finished_) {  // granted just as the request ended
          call.state = Call::State::done;
          return;
        }
        call.state = Call::State::running;
        call.started = Clock::now();
        call.timeout.emplace(self->strand_,
                             std::min(self->deadline_, call.started + call.provider->timeout()));
        call.timeout->async_wait([self, &call](boost::system::error_code ec) {
          if (ec || call.state != Call::State::running) return;
          call.timed_out = true;
          call.signal.emit(asio::cancellation_type::terminal);
        });
        launch(asio::bind_cancellation_slot(
            call.signal.slot(),
            asio::bind_executor(self->strand_, [self, &call, permit = std::move(permit),
                                                done](Error e, T result) mutable {
              permit = Permit();  // admit the next waiter now
              call.state = Call::State::done;
              if (call.timeout) call.timeout->cancel();
              if (call.hedge) call.hedge->cancel();
              const auto latency = Clock::now() - call.started;
              if (call.timed_out && e.code() == Code::cancelled) {
                const auto ms =
                    std::chrono::duration_cast<std::chrono::milliseconds>(latency).count();
                e = Error(Code::deadline_exceeded, call.provider->name() +
                                                       ": no answer within " +
                                                       std::to_string(ms) + "ms");
              }
              if (e.ok()) {
                call.provider->record_success(latency);
              } else {
                call.provider->record_failure(e);
              }
              done(call, std::move(e), std::move(result));
            })));
      })));
}

}  // namespace trousseau::quorum::detail
