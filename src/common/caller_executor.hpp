// Running a request on the thread that received it, as far as it can go
// without waiting.
//
// A request arrives on a gRPC thread and runs on a strand of the shared
// io_context. Handing it to an io thread and its answer back to gRPC costs
// two thread wake-ups, which on a busy machine is most of what a request to
// a local key costs (docs/performance.md, "The hand-off"). A CallerQueue on
// the receiving thread lets that thread do the work itself instead:
//
//   CallerQueue here(strand);
//   engine.async_decrypt(strand, ...);  // posts to the strand
//   here.run();                         // runs it, and whatever follows it
//                                       // on that strand, until nothing is
//                                       // ready: for a key file, the answer
//
// Only executors of type CallerFirstExecutor look for a CallerQueue, and a
// queue takes work for its own strand only: work submitted through that
// strand while the current thread holds the queue is appended to it, not
// handed to the io_context. Another request's strand, resumed from here
// (a limiter permit handed to its waiting call, say), goes to the
// io_context as before: a gRPC thread never works for other requests while
// its own answer waits for the method to return. The strand keeps its
// guarantee (one handler at a time, in order) because the queue runs the
// strand's own invoker. Work is never run inside the call that submits it,
// so blocking.never holds; it runs later on the same thread, before
// CallerQueue::run() returns.
//
// What waits (a remote KMS, a timer) completes on an io thread as before:
// only the thread that holds a queue runs anything from it.
#pragma once

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <type_traits>
#include <utility>

namespace trousseau {

template <typename Inner>
class CallerFirstExecutor;

/// The strand every request runs on (quorum::Strand).
using CallerStrand =
    boost::asio::strand<CallerFirstExecutor<boost::asio::io_context::executor_type>>;

/// Work of one strand for the current thread to run before it goes on (a
/// trampoline). Lives on the stack of the thread that made it; queues may
/// nest, and only the innermost receives work. Not thread-safe, and need
/// not be: only its own thread can reach it.
class CallerQueue {
 public:
  explicit CallerQueue(const CallerStrand& strand);
  /// Runs what is left: work queued here holds a strand, and must run.
  ~CallerQueue() {
    run();
    current_ = outer_;
  }
  CallerQueue(const CallerQueue&) = delete;
  CallerQueue& operator=(const CallerQueue&) = delete;

  /// Runs queued work, and the work it queues, until none is left.
  void run() {
    while (!tasks_.empty()) {
      std::unique_ptr<Task> next = std::move(tasks_.front());
      tasks_.pop_front();
      next->run();
    }
  }

  /// The current thread's innermost queue, or nullptr.
  static CallerQueue* current() { return current_; }
  /// The strand whose work it takes (CallerFirstExecutor::owner).
  std::uint64_t owner() const { return owner_; }

  template <typename F>
  void push(F&& f) {
    tasks_.push_back(std::make_unique<Work<std::decay_t<F>>>(std::forward<F>(f)));
  }

 private:
  struct Task {
    virtual ~Task() = default;
    virtual void run() = 0;
  };
  template <typename F>
  struct Work final : Task {
    explicit Work(F&& fn) : f(std::move(fn)) {}
    explicit Work(const F& fn) : f(fn) {}
    void run() override { std::move(f)(); }
    F f;
  };

  static inline thread_local CallerQueue* current_ = nullptr;
  std::uint64_t owner_;
  CallerQueue* outer_;
  std::deque<std::unique_ptr<Task>> tasks_;
};

/// An executor that behaves as `Inner` (every property is Inner's), except
/// that work submitted on a thread whose innermost CallerQueue belongs to
/// the same owner (one strand: make_caller_strand) goes to that queue.
template <typename Inner>
class CallerFirstExecutor {
 public:
  CallerFirstExecutor(Inner inner, std::uint64_t owner) : inner_(std::move(inner)), owner_(owner) {}

  std::uint64_t owner() const { return owner_; }

  template <typename F>
  void execute(F&& f) const {
    if (CallerQueue* here = CallerQueue::current(); here != nullptr && here->owner() == owner_) {
      here->push(std::forward<F>(f));
      return;
    }
    inner_.execute(std::forward<F>(f));
  }

  template <typename Property>
    requires boost::asio::can_query<const Inner&, const Property&>::value
  decltype(auto) query(const Property& p) const {
    return boost::asio::query(inner_, p);
  }

  template <typename Property>
    requires boost::asio::can_require<const Inner&, const Property&>::value
  auto require(const Property& p) const {
    using Next = std::decay_t<decltype(boost::asio::require(inner_, p))>;
    return CallerFirstExecutor<Next>(boost::asio::require(inner_, p), owner_);
  }

  template <typename Property>
    requires boost::asio::can_prefer<const Inner&, const Property&>::value
  auto prefer(const Property& p) const {
    using Next = std::decay_t<decltype(boost::asio::prefer(inner_, p))>;
    return CallerFirstExecutor<Next>(boost::asio::prefer(inner_, p), owner_);
  }

  friend bool operator==(const CallerFirstExecutor& a, const CallerFirstExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.owner_ == b.owner_;
  }
  friend bool operator!=(const CallerFirstExecutor& a, const CallerFirstExecutor& b) noexcept {
    return !(a == b);
  }

 private:
  Inner inner_;
  std::uint64_t owner_;
};

/// A strand of `io` with an owner of its own: a CallerQueue made for it
/// takes its work and no other strand's.
inline CallerStrand make_caller_strand(boost::asio::io_context& io) {
  static std::atomic<std::uint64_t> owners{0};
  return CallerStrand(CallerFirstExecutor(io.get_executor(), ++owners));
}

inline CallerQueue::CallerQueue(const CallerStrand& strand)
    : owner_(strand.get_inner_executor().owner()), outer_(current_) {
  current_ = this;
}

}  // namespace trousseau
