// The pkcs11 provider's thread pool, session pool and cancellation.
#include <algorithm>
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <vector>

#include "support/call_options.hpp"
#include "pkcs11_fixture.hpp"

namespace trousseau::providers::pkcs11 {
namespace {

using namespace std::chrono_literals;

TEST_F(Pkcs11Test, ConcurrentWrapsFromSeveralThreadsAllSucceed) {
  auto p = make_ok(entry("sessions: 2, threads: 2"));
  ASSERT_NE(p, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr int kOps = kThreads * kPerThread;
  SecretBytes share = SecretBytes::random(32);
  std::atomic<int> done{0};
  std::atomic<int> ok{0};
  std::promise<void> all_done;

  auto finished = [&] {
    if (done.fetch_add(1) + 1 == kOps) all_done.set_value();
  };
  auto wrap_then_unwrap = [&] {
    p->async_wrap(::trousseau::testing::within(), context(), share.view(), asio::bind_executor(io, [&](Error e, WrapResult w) {
                    if (!e.ok()) return finished();
                    auto wrapped = std::make_shared<WrapResult>(std::move(w));
                    p->async_unwrap(::trousseau::testing::within(), 
                        context(), wrapped->key_version, wrapped->wrapped,
                        asio::bind_executor(io, [&, wrapped](Error e2, SecretBytes back) {
                          if (e2.ok() && back.equals(share.view())) ok.fetch_add(1);
                          finished();
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
  ASSERT_EQ(all_done.get_future().wait_for(60s), std::future_status::ready);
  EXPECT_EQ(ok.load(), kOps);
}

/// Per-operation bookkeeping for the cancellation tests.
struct Outcome {
  std::atomic<int> calls{0};
  std::atomic<int> order{-1};
  Code code = Code::ok;
};

TEST_F(Pkcs11Test, CancellationBeforeTheJobRunsCompletesCancelledOnce) {
  auto p = make_ok(entry("sessions: 1, threads: 1"));
  ASSERT_NE(p, nullptr);
  // Slow work first: large plaintexts keep the single thread busy for tens
  // of milliseconds, so the small wraps queued behind cannot have started
  // when they are cancelled.
  constexpr int kSlow = 20;
  constexpr int kOps = kSlow + 200;
  const Bytes big(2 << 20, 0x5a);
  SecretBytes share = SecretBytes::random(32);
  std::deque<asio::cancellation_signal> signals(kOps);
  std::deque<Outcome> outcomes(kOps);
  std::atomic<int> completed{0};
  std::promise<void> all_done;

  // Initiate and cancel on the io thread, as a request's strand would.
  asio::post(io, [&] {
    for (int i = 0; i < kOps; ++i) {
      p->async_wrap(::trousseau::testing::within(), context(), i < kSlow ? ByteView(big) : share.view(),
                    asio::bind_cancellation_slot(
                        signals[i].slot(), asio::bind_executor(io, [&, i](Error e, WrapResult) {
                          Outcome& o = outcomes[i];
                          o.code = e.code();
                          o.order = completed.fetch_add(1);
                          if (o.calls.fetch_add(1) == 0 && o.order + 1 == kOps)
                            all_done.set_value();
                        })));
      if (i >= kSlow) signals[i].emit(asio::cancellation_type::terminal);
    }
  });
  ASSERT_EQ(all_done.get_future().wait_for(60s), std::future_status::ready);
  Error err = run([&](auto t) { return p->async_probe(::trousseau::testing::within(), t); });
  EXPECT_TRUE(err.ok()) << "the pool is wedged: " << err.message();
  p.reset();  // joins the pool: any late completion is queued by now
  std::promise<void> settled;
  asio::post(io, [&] { settled.set_value(); });
  settled.get_future().wait();

  int last_slow = -1;
  for (int i = 0; i < kSlow; ++i) {
    EXPECT_EQ(outcomes[i].code, Code::ok) << i;
    last_slow = std::max(last_slow, outcomes[i].order.load());
  }
  for (int i = 0; i < kOps; ++i) EXPECT_EQ(outcomes[i].calls.load(), 1) << i;
  for (int i = kSlow; i < kOps; ++i) {
    EXPECT_EQ(outcomes[i].code, Code::cancelled) << i;
    // At once, not after the slow work queued ahead of it.
    EXPECT_LT(outcomes[i].order.load(), last_slow) << i;
  }
}

TEST_F(Pkcs11Test, CancellationAtAnyMomentCompletesEachHandlerExactlyOnce) {
  auto p = make_ok(entry("sessions: 2, threads: 2"));
  ASSERT_NE(p, nullptr);
  constexpr int kOps = 300;
  SecretBytes share = SecretBytes::random(32);
  std::deque<asio::cancellation_signal> signals(kOps);
  std::deque<Outcome> outcomes(kOps);
  std::deque<asio::steady_timer> timers;
  for (int i = 0; i < kOps; ++i) timers.emplace_back(io);
  std::atomic<int> completed{0};
  std::promise<void> all_done;

  asio::post(io, [&] {
    for (int i = 0; i < kOps; ++i) {
      p->async_wrap(::trousseau::testing::within(), context(), share.view(),
                    asio::bind_cancellation_slot(
                        signals[i].slot(), asio::bind_executor(io, [&, i](Error e, WrapResult) {
                          outcomes[i].code = e.code();
                          outcomes[i].calls.fetch_add(1);
                          if (completed.fetch_add(1) + 1 == kOps) all_done.set_value();
                        })));
      // Cancel every other operation after 0-3 ms: some before they start,
      // some while they run, some after they finished.
      if (i % 2 == 1) {
        timers[i].expires_after(std::chrono::microseconds((i * 37) % 3000));
        timers[i].async_wait([&, i](boost::system::error_code) {
          signals[i].emit(asio::cancellation_type::terminal);
        });
      }
    }
  });
  ASSERT_EQ(all_done.get_future().wait_for(60s), std::future_status::ready);
  p.reset();  // joins the pool: any late completion is queued by now
  std::promise<void> settled;
  asio::post(io, [&] { settled.set_value(); });
  settled.get_future().wait();
  for (int i = 0; i < kOps; ++i) {
    EXPECT_EQ(outcomes[i].calls.load(), 1) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(outcomes[i].code, Code::ok) << i;
    } else {
      EXPECT_TRUE(outcomes[i].code == Code::ok || outcomes[i].code == Code::cancelled) << i;
    }
  }
}

}  // namespace
}  // namespace trousseau::providers::pkcs11
