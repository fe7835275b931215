// Each lane is one chain of calls: a call's completion handler records it
// and starts the lane's next call. A lane's state is touched by one call at
// a time, on whichever io thread runs that handler; the provider's post to
// that thread orders each access after the previous one. Lanes record into
// their own histograms, merged once the last lane is done.
#include "direct_runner.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <future>
#include <memory>
#include <optional>
#include <vector>

namespace trousseau::bench::direct {

namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kShareSize = 32;

struct Lane {
  SecretBytes share{kShareSize};  // wrap: refilled before each call
  SteadyClock::time_point started;
  std::optional<SteadyClock::time_point> last_completion;
  PhaseResult result;
};

class Phase {
 public:
  Phase(providers::Provider& provider, asio::any_io_executor executor, const CallPlan& plan,
        std::size_t lanes, std::uint64_t count)
      : provider_(provider),
        executor_(std::move(executor)),
        plan_(plan),
        count_(count),
        lanes_(lanes),
        running_(lanes) {}

  PhaseResult run() {
    std::future<void> done = done_->get_future();
    const SteadyClock::time_point first_start = SteadyClock::now();
    for (Lane& lane : lanes_) start_next(lane);
    done.get();

    PhaseResult total;
    std::optional<SteadyClock::time_point> last;
    for (Lane& lane : lanes_) {
      const PhaseResult& r = lane.result;
      total.calls += r.calls;
      total.ok += r.ok;
      for (const auto& [code, n] : r.errors) total.errors[code] += n;
      if (total.first_error.empty()) total.first_error = r.first_error;
      total.latency.merge(r.latency);
      if (lane.last_completion) last = std::max(last.value_or(first_start), *lane.last_completion);
    }
    total.elapsed = last.value_or(first_start) - first_start;
    return total;
  }

 private:
  /// Starts the lane's next call, or retires the lane when none is left.
  void start_next(Lane& lane) {
    const std::uint64_t index = next_.fetch_add(1, std::memory_order_relaxed);
    if (index >= count_) {
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The waiting thread may destroy this Phase as soon as the value is
        // set, before set_value() has returned: keep the promise alive.
        const std::shared_ptr<std::promise<void>> done = done_;
        done->set_value();
      }
      return;
    }
    // Everything but the call itself happens before the clock starts.
    if (plan_.op == Op::wrap) random_fill(lane.share.span());
    const providers::CallOptions options{Clock::now() + plan_.timeout, {},
                                         plan_.request_prefix + std::to_string(index)};
    lane.started = SteadyClock::now();
    if (plan_.op == Op::wrap) {
      provider_.async_wrap(options, plan_.context, lane.share.view(),
                           asio::bind_executor(executor_, [this, &lane](Error e,
                                                                        providers::WrapResult) {
                             completed(lane, std::move(e));
                           }));
    } else {
      provider_.async_unwrap(
          options, plan_.context, plan_.key_version, plan_.wrapped,
          asio::bind_executor(executor_, [this, &lane](Error e, SecretBytes opened) {
            if (e.ok() && !opened.equals(plan_.share->view())) {
              e = internal_error("unwrap returned other bytes than the share that was wrapped");
            }
            completed(lane, std::move(e));
          }));
    }
  }

  void completed(Lane& lane, Error e) {
    const SteadyClock::time_point now = SteadyClock::now();
    lane.last_completion = now;
    PhaseResult& r = lane.result;
    ++r.calls;
    if (e.ok()) {
      ++r.ok;
      r.latency.record(static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, std::chrono::nanoseconds(now - lane.started).count())));
    } else {
      const std::string code(to_string(e.code()));
      ++r.errors[code];
      if (r.first_error.empty()) r.first_error = code + ": " + e.message();
    }
    start_next(lane);
  }

  providers::Provider& provider_;
  const asio::any_io_executor executor_;
  const CallPlan& plan_;
  const std::uint64_t count_;
  std::vector<Lane> lanes_;  // never resized: handlers hold references
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::size_t> running_;
  const std::shared_ptr<std::promise<void>> done_ = std::make_shared<std::promise<void>>();
};

}  // namespace

PhaseResult run_phase(providers::Provider& provider, const asio::any_io_executor& executor,
                      const CallPlan& plan, std::size_t concurrency, std::uint64_t count) {
  const auto lanes = static_cast<std::size_t>(std::min<std::uint64_t>(concurrency, count));
  if (lanes == 0) return {};
  Phase phase(provider, executor, plan, lanes, count);
  return phase.run();
}

Result<providers::WrapResult> wrap_once(providers::Provider& provider,
                                        const asio::any_io_executor& executor, ByteView context,
                                        const SecretBytes& share,
                                        std::chrono::milliseconds timeout) {
  auto answer = std::make_shared<std::promise<Result<providers::WrapResult>>>();
  std::future<Result<providers::WrapResult>> result = answer->get_future();
  const providers::CallOptions options{Clock::now() + timeout, {}, "direct-prepare"};
  provider.async_wrap(options, context, share.view(),
                      asio::bind_executor(executor, [answer](Error e, providers::WrapResult r) {
                        if (e.ok()) {
                          answer->set_value(std::move(r));
                        } else {
                          answer->set_value(std::move(e));
                        }
                      }));
  return result.get();
}

}  // namespace trousseau::bench::direct
