#include "quorum/limiter.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>

#include "providers/completion.hpp"

namespace trousseau::quorum {

struct Waiter {
  std::uint64_t id;
  asio::any_completion_handler<AcquireSignature> handler;
};

struct Permit::State : std::enable_shared_from_this<Permit::State> {
  std::string name;
  unsigned max_inflight;
  unsigned max_queue;
  asio::any_io_executor executor;
  mutable std::mutex mutex;
  unsigned inflight = 0;
  std::uint64_t next_id = 0;
  std::list<Waiter> waiters;

  void release() {
    std::unique_lock lock(mutex);
    if (waiters.empty()) {
      --inflight;
      return;
    }
    // Hand the slot straight to the oldest waiter: inflight stays the same.
    Waiter w = std::move(waiters.front());
    waiters.pop_front();
    lock.unlock();
    // The waiter's cancellation handler stays installed (we may not touch the
    // slot from this thread); it finds no waiter with its id and does nothing.
    providers::post_completion(executor, std::move(w.handler), Error(),
                               Permit(shared_from_this()));
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
    : state_(std::make_shared<Permit::State>()) {
  state_->name = std::move(name);
  state_->max_inflight = max_inflight;
  state_->max_queue = max_queue;
  state_->executor = std::move(executor);
}

unsigned Limiter::in_flight() const {
  std::lock_guard lock(state_->mutex);
  return state_->inflight;
}

unsigned Limiter::queued() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<unsigned>(state_->waiters.size());
}

void Limiter::acquire_impl(asio::any_completion_handler<AcquireSignature> handler) {
  std::unique_lock lock(state_->mutex);
  if (state_->inflight < state_->max_inflight) {
    ++state_->inflight;
    lock.unlock();
    providers::post_completion(state_->executor, std::move(handler), Error(), Permit(state_));
    return;
  }
  if (state_->waiters.size() >= state_->max_queue) {
    lock.unlock();
    providers::post_completion(
        state_->executor, std::move(handler),
        Error(Code::resource_exhausted,
              "provider '" + state_->name + "': " + std::to_string(state_->max_inflight) +
                  " calls in flight and " + std::to_string(state_->max_queue) + " queued"),
        Permit());
    return;
  }
  const std::uint64_t id = state_->next_id++;
  auto slot = asio::get_associated_cancellation_slot(handler);
  state_->waiters.push_back({id, std::move(handler)});
  if (slot.is_connected()) {
    // Runs on the emitter's thread; the mutex decides whether release() or
    // this handler takes the waiter, so it completes exactly once.
    std::weak_ptr<Permit::State> weak = state_;
    slot.assign([weak, id](asio::cancellation_type) {
      auto s = weak.lock();
      if (!s) return;
      std::unique_lock l(s->mutex);
      for (auto it = s->waiters.begin(); it != s->waiters.end(); ++it) {
        if (it->id != id) continue;
        auto h = std::move(it->handler);
        s->waiters.erase(it);
        l.unlock();
        // The slot is being emitted right now: it cannot be cleared from
        // inside its own handler, and the caller forgets it on completion.
        providers::post_completion(s->executor, std::move(h),
                                   Error(Code::cancelled, "cancelled while queued"), Permit());
        return;
      }
    });
  }
}

}  // namespace trousseau::quorum
