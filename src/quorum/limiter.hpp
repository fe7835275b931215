// Back-pressure for one provider: at most N calls in flight, at most Q more
// waiting, and RESOURCE_EXHAUSTED beyond that. Memory stays bounded.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace trousseau::quorum {

namespace asio = boost::asio;

class Limiter;

/// The right to run one call. Releasing it (destruction) admits the next
/// waiter, if any.
class Permit {
 public:
  Permit() = default;
  Permit(Permit&&) noexcept = default;
  Permit& operator=(Permit&& other) noexcept;
  ~Permit();
  bool held() const { return state_ != nullptr; }

 private:
  friend class Limiter;
  struct State;
  explicit Permit(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

using AcquireSignature = void(Error, Permit);

class Limiter {
 public:
  Limiter(std::string name, unsigned max_inflight, unsigned max_queue,
          asio::any_io_executor executor);

  /// Completes with a Permit at once when below the in-flight bound, after a
  /// wait when the queue has room, or with Code::resource_exhausted when it
  /// has none. A terminal cancellation while waiting completes with
  /// Code::cancelled. Never completes inline.
  template <typename Token>
  auto async_acquire(Token&& token) {
    return asio::async_initiate<Token, AcquireSignature>(
        [this](auto handler) { acquire_impl(std::move(handler)); }, token);
  }

  /// A Permit at once when below the in-flight bound (then nobody waits,
  /// so it jumps no queue); none otherwise, and the caller uses
  /// async_acquire. Saves a caller already on its executor a round trip
  /// through it.
  std::optional<Permit> try_acquire();

  unsigned in_flight() const;
  unsigned queued() const;

 private:
  void acquire_impl(asio::any_completion_handler<AcquireSignature> handler);
  std::shared_ptr<Permit::State> state_;
};

}  // namespace trousseau::quorum
