#include "quorum/limiter.hpp"

#include "common/completion.hpp"
#include "common/waiter_queue.hpp"

namespace trousseau::quorum {

struct Permit::State : std::enable_shared_from_this<Permit::State> {
  State(std::string n, unsigned inflight_bound, unsigned queue_bound,
        asio::any_io_executor ex)
      : name(std::move(n)),
        max_inflight(inflight_bound),
        max_queue(queue_bound),
        executor(ex),
        waiters(std::move(ex), Error(Code::cancelled, "cancelled while queued")) {}

  const std::string name;
  const unsigned max_inflight;
  const unsigned max_queue;
  const asio::any_io_executor executor;
  /// Guards inflight, and keeps it consistent with the waiters (which lock
  /// on their own, inside this one): there are waiters only while every
  /// place is taken.
  mutable std::mutex mutex;
  unsigned inflight = 0;
  WaiterQueue<AcquireSignature> waiters;

  void release() {
    std::unique_lock lock(mutex);
    auto next = waiters.take_oldest();
    if (!next) {
      --inflight;
      return;
    }
    // Hand the place straight to the oldest waiter: inflight stays the same.
    lock.unlock();
    post_completion(executor, std::move(next->handler), Error(), Permit(shared_from_this()));
  }
};

Permit& Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    if (state_) state_->release();
    state_ = std::move(other.state_);
  }
  return *this;
}

Permit::~Permit() {
  if (state_) state_->release();
}

Limiter::Limiter(std::string name, unsigned max_inflight, unsigned max_queue,
                 asio::any_io_executor executor)
    : state_(std::make_shared<Permit::State>(std::move(name), max_inflight, max_queue,
                                             std::move(executor))) {}

unsigned Limiter::in_flight() const {
  std::lock_guard lock(state_->mutex);
  return state_->inflight;
}

unsigned Limiter::queued() const { return static_cast<unsigned>(state_->waiters.size()); }

std::optional<Permit> Limiter::try_acquire() {
  std::lock_guard lock(state_->mutex);
  if (state_->inflight >= state_->max_inflight) return std::nullopt;
  ++state_->inflight;
  return Permit(state_);
}

void Limiter::acquire_impl(asio::any_completion_handler<AcquireSignature> handler) {
  std::unique_lock lock(state_->mutex);
  if (state_->inflight < state_->max_inflight) {
    ++state_->inflight;
    lock.unlock();
    post_completion(state_->executor, std::move(handler), Error(), Permit(state_));
    return;
  }
  if (state_->waiters.size() >= state_->max_queue) {
    lock.unlock();
    post_completion(
        state_->executor, std::move(handler),
        Error(Code::resource_exhausted,
              "provider '" + state_->name + "': " + std::to_string(state_->max_inflight) +
                  " calls in flight and " + std::to_string(state_->max_queue) + " queued"),
        Permit());
    return;
  }
  // A cancellation while queued completes it with Code::cancelled.
  state_->waiters.push(std::move(handler));
}

}  // namespace trousseau::quorum
