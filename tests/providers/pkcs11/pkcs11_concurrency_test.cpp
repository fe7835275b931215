// The pkcs11 provider's thread pool, its queue bound, the session pool and
// cancellation. Where the order of events matters, calls are held inside
// the token at the counting module's C_Encrypt gate: the tests wait on
// state (calls held, handlers run), never on time.
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "pkcs11_fixture.hpp"

namespace trousseau::providers::pkcs11 {
namespace {

/// Per-operation bookkeeping for the cancellation tests. Written on the io
/// thread, read by the test after a future or settle() ordered it.
struct Outcome {
  std::atomic<int> calls{0};
  Code code = Code::ok;
};

/// Counts handlers down to a future the test waits on.
class Countdown {
 public:
  explicit Countdown(int n) : left_(n) {}
  void done() {
    if (left_.fetch_sub(1) == 1) all_.set_value();
  }
  void wait() { all_.get_future().wait(); }

 private:
  std::atomic<int> left_;
  std::promise<void> all_;
};

class Pkcs11ConcurrencyTest : public Pkcs11Test {
 protected:
  /// Starts a wrap on the io thread, as a request's strand would; its
  /// handler records into `o` and counts `c` down.
  void start_wrap(Provider& p, const CallOptions& opts, asio::cancellation_signal& signal,
                  Outcome& o, Countdown& c) {
    asio::post(io, [&, opts] {
      p.async_wrap(opts, context(), share.view(),
                   asio::bind_cancellation_slot(signal.slot(),
                                                asio::bind_executor(io, [&](Error e, WrapResult) {
                                                  o.code = e.code();
                                                  o.calls.fetch_add(1);
                                                  c.done();
                                                })));
    });
  }

  void cancel(asio::cancellation_signal& signal) {
    asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  }

  std::string counted(const std::string& extra) {
    return counted_entry("pin_file: " + hsm->pin_file(), extra);
  }

  SecretBytes share = SecretBytes::random(32);
};

TEST_F(Pkcs11ConcurrencyTest, ConcurrentWrapsFromSeveralThreadsAllSucceed) {
  auto p = make_ok(entry("sessions: 2, threads: 2, thread_queue: 512"));
  ASSERT_NE(p, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr int kOps = kThreads * kPerThread;
  std::atomic<int> ok{0};
  Countdown all(kOps);

  auto wrap_then_unwrap = [&] {
    p->async_wrap(options(), context(), share.view(),
                  asio::bind_executor(io, [&](Error e, WrapResult w) {
                    if (!e.ok()) return all.done();
                    auto wrapped = std::make_shared<WrapResult>(std::move(w));
                    p->async_unwrap(options(), context(), wrapped->key_version, wrapped->wrapped,
                                    asio::bind_executor(io, [&, wrapped](Error e2, SecretBytes back) {
                                      if (e2.ok() && back.equals(share.view())) ok.fetch_add(1);
                                      all.done();
                                    }));
                  }));
  };
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) wrap_then_unwrap();
    });
  }
  for (auto& c : callers) c.join();
  all.wait();
  EXPECT_EQ(ok.load(), kOps);
}

TEST_F(Pkcs11ConcurrencyTest, CancelledCallsQueuedBehindABusyThreadCompleteBeforeIt) {
  auto p = make_ok(counted("sessions: 1, threads: 1, thread_queue: 256"));
  ASSERT_NE(p, nullptr);
  constexpr int kQueued = 200;
  testkit::EncryptGate gate;
  asio::cancellation_signal busy_signal;
  Outcome busy;
  Countdown busy_done(1);
  start_wrap(*p, options(), busy_signal, busy, busy_done);
  gate.wait_until_held(1);  // the only thread is inside the token

  std::deque<asio::cancellation_signal> signals(kQueued);
  std::deque<Outcome> queued(kQueued);
  Countdown all_queued(kQueued);
  for (int i = 0; i < kQueued; ++i) {
    start_wrap(*p, options(), signals[i], queued[i], all_queued);
    cancel(signals[i]);
  }
  // Every queued call completes while the call ahead of them is still in
  // the token: cancellation does not wait for the pool.
  all_queued.wait();
  EXPECT_EQ(busy.calls.load(), 0);
  for (int i = 0; i < kQueued; ++i) EXPECT_EQ(queued[i].code, Code::cancelled) << i;

  gate.open();
  busy_done.wait();
  EXPECT_EQ(busy.code, Code::ok);
  Error err = probe(*p);
  EXPECT_TRUE(err.ok()) << "the pool is wedged: " << err.message();
  p.reset();  // joins the pool: any late completion is queued by now
  settle();
  EXPECT_EQ(busy.calls.load(), 1);
  for (int i = 0; i < kQueued; ++i) EXPECT_EQ(queued[i].calls.load(), 1) << i;
}

TEST_F(Pkcs11ConcurrencyTest, CancellationCompletesOnceWhetherTheCallWasQueuedRunningOrDone) {
  auto p = make_ok(counted("sessions: 1, threads: 1"));
  ASSERT_NE(p, nullptr);
  // The running call's back-pressure lease, watched but not owned here.
  CallOptions running_options = options();
  auto lease = std::make_shared<int>(0);
  std::weak_ptr<int> lease_alive = lease;
  running_options.lease = std::move(lease);

  asio::cancellation_signal running_signal, queued_signal, done_signal;
  Outcome running, queued, done;
  Countdown cancelled(2), finished(1);
  {
    testkit::EncryptGate gate;
    start_wrap(*p, running_options, running_signal, running, cancelled);
    running_options.lease.reset();
    gate.wait_until_held(1);
    start_wrap(*p, options(), queued_signal, queued, cancelled);
    cancel(running_signal);
    cancel(queued_signal);
    cancelled.wait();  // both, while the running call is still in the token
    EXPECT_EQ(running.code, Code::cancelled);
    EXPECT_EQ(queued.code, Code::cancelled);
    EXPECT_FALSE(lease_alive.expired()) << "the token still works on the call: keep its lease";
  }  // the gate opens: the running call returns, its result is dropped

  start_wrap(*p, options(), done_signal, done, finished);
  finished.wait();
  EXPECT_EQ(done.code, Code::ok);
  cancel(done_signal);  // after the fact: nothing happens

  p.reset();  // joins the pool: any late completion is queued by now
  settle();
  EXPECT_EQ(running.calls.load(), 1);
  EXPECT_EQ(queued.calls.load(), 1);
  EXPECT_EQ(done.calls.load(), 1);
  EXPECT_EQ(running.code, Code::cancelled);
  EXPECT_TRUE(lease_alive.expired()) << "the token returned: the lease goes";
}

TEST_F(Pkcs11ConcurrencyTest, CancellationAtAnyMomentCompletesEachHandlerExactlyOnce) {
  auto p = make_ok(entry("sessions: 2, threads: 2, thread_queue: 512"));
  ASSERT_NE(p, nullptr);
  constexpr int kOps = 300;
  std::deque<asio::cancellation_signal> signals(kOps);
  std::deque<Outcome> outcomes(kOps);
  Countdown all(kOps);
  // Every other call is cancelled from a handler of its own, queued on the
  // io thread behind all the starts and among the completions: some before
  // their call starts, some while it runs, some after it finished. Which
  // is which varies from run to run; the outcome may not.
  for (int i = 0; i < kOps; ++i) start_wrap(*p, options(), signals[i], outcomes[i], all);
  for (int i = 1; i < kOps; i += 2) cancel(signals[i]);
  all.wait();
  p.reset();  // joins the pool: any late completion is queued by now
  settle();
  for (int i = 0; i < kOps; ++i) {
    EXPECT_EQ(outcomes[i].calls.load(), 1) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(outcomes[i].code, Code::ok) << i;
    } else {
      EXPECT_TRUE(outcomes[i].code == Code::ok || outcomes[i].code == Code::cancelled) << i;
    }
  }
}

TEST_F(Pkcs11ConcurrencyTest, CallsBeyondTheThreadQueueAreRefusedAtOnce) {
  auto p = make_ok(counted("sessions: 2, threads: 2, thread_queue: 3"));
  ASSERT_NE(p, nullptr);
  asio::cancellation_signal signals[5];
  Outcome admitted[5];
  Countdown all_admitted(5);
  {
    testkit::EncryptGate gate;
    for (int i = 0; i < 2; ++i) start_wrap(*p, options(), signals[i], admitted[i], all_admitted);
    gate.wait_until_held(2);  // both threads are inside the token
    for (int i = 2; i < 5; ++i) start_wrap(*p, options(), signals[i], admitted[i], all_admitted);
    settle();  // they were started on the io thread: three places taken

    // The queue is full: one more is refused without waiting for a thread.
    // Started from this thread, its completion is posted to the io thread
    // before settle() posts there, so it has run when settle() returns; a
    // call that joined the queue instead would still be pending.
    auto refused = p->async_wrap(options(), context(), share.view(), asio::use_future);
    auto probe_refused = p->async_probe(options(), asio::use_future);
    settle();
    ASSERT_EQ(refused.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    ASSERT_EQ(probe_refused.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    Error e = std::get<0>(refused.get());
    EXPECT_EQ(e.code(), Code::resource_exhausted) << e.message();
    EXPECT_NE(e.message().find("thread_queue"), std::string::npos) << e.message();
    Error pe = probe_refused.get();
    EXPECT_EQ(pe.code(), Code::resource_exhausted) << pe.message();
    for (const Outcome& o : admitted) EXPECT_EQ(o.calls.load(), 0);
  }  // the gate opens

  all_admitted.wait();
  for (const Outcome& o : admitted) EXPECT_EQ(o.code, Code::ok);
  auto [after, w2] = wrap(*p, share.view());  // every place was given back
  EXPECT_TRUE(after.ok()) << after.message();
}

}  // namespace
}  // namespace trousseau::providers::pkcs11
