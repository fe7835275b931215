// Why CompletionQueues rather than the callback API
// (stub->async()->Decrypt(ctx, req, resp, callback)):
//  - A callback may run inline, inside the call that starts an RPC, when
//    gRPC fails it at once (say, the server is gone). Starting the next call
//    from that callback then recurses, once per failed call. A queue hands
//    every completion back to our loop, so the next call always starts from
//    a flat stack.
//  - Each slot lives on the one thread that polls its queue: a slot's
//    request, response and context are never shared between threads, and
//    each thread records into its own histogram, merged after the join.
//  - The generator's own CPU is as many threads as --threads says, not the
//    size of gRPC's callback executor; on a small machine the generator and
//    the server share the cores, and the split must stay predictable.
#include "runner.hpp"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "kms/status_code_name.hpp"

namespace trousseau::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;

/// Hands out call indices until the count or the time runs out.
class Claims {
 public:
  Claims(std::uint64_t count, SteadyClock::time_point until) : count_(count), until_(until) {}

  std::optional<std::uint64_t> next() {
    if (count_ == 0) {
      if (SteadyClock::now() >= until_) return std::nullopt;
      return next_.fetch_add(1, std::memory_order_relaxed);
    }
    const std::uint64_t index = next_.fetch_add(1, std::memory_order_relaxed);
    if (index >= count_) return std::nullopt;
    return index;
  }

 private:
  const std::uint64_t count_;
  const SteadyClock::time_point until_;
  std::atomic<std::uint64_t> next_{0};
};

struct Lane {
  std::unique_ptr<CallSlot> slot;
  std::uint64_t index = 0;
  SteadyClock::time_point started;
  grpc::Alarm think;  ///< fires on the queue with tag `&think`
};

struct WorkerResult {
  PhaseResult result;
  std::optional<SteadyClock::time_point> last_completion;
};

void count_call(const PhaseOptions& options, const Lane& lane, const CallResult& call,
                std::chrono::nanoseconds latency, PhaseResult& out) {
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency.count()));
  ++out.calls;
  if (call.status.ok()) {
    ++out.ok;
    out.latency.record(ns);
    out.ciphertext_bytes += call.ciphertext_bytes;
  } else {
    const std::string name = kms::status_code_name(call.status.error_code());
    ++out.errors[name];
    if (out.first_error.empty()) out.first_error = name + ": " + call.status.error_message();
  }
  if (options.keep_records) {
    out.records.push_back({lane.index, ns, static_cast<int>(call.status.error_code())});
  }
}

/// One thread: a queue, the slots `thread`, `thread + threads`, ... and
/// the loop that restarts each slot from its completion.
void work(const PhaseOptions& options, const CallPlan& plan,
          const std::vector<std::shared_ptr<grpc::Channel>>& channels, std::size_t thread,
          Claims& claims, WorkerResult& out) {
  grpc::CompletionQueue cq;
  std::vector<Lane> lanes;  // after cq: destroyed before it
  for (std::size_t l = thread; l < options.concurrency; l += options.threads) {
    lanes.emplace_back().slot = make_call_slot(plan, channels[l % channels.size()], &cq);
  }
  // Tags point into `lanes`: it no longer grows.
  auto launch = [&](Lane& lane, std::uint64_t index) {
    lane.index = index;
    const std::string uid = options.uid_prefix + std::to_string(options.first_seq + index);
    lane.started = SteadyClock::now();
    lane.slot->start(index, uid, std::chrono::system_clock::now() + options.deadline, &lane);
  };

  // A tag is a Lane (a call completed) or a Lane's alarm (its think time
  // is over).
  auto lane_of_alarm = [&](void* tag) -> Lane* {
    for (Lane& lane : lanes) {
      if (tag == static_cast<void*>(&lane.think)) return &lane;
    }
    return nullptr;
  };

  std::size_t active = 0;
  for (Lane& lane : lanes) {
    const auto index = claims.next();
    if (!index) break;
    launch(lane, *index);
    ++active;
  }
  while (active > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;  // only once shut down
    const auto done = SteadyClock::now();
    if (Lane* thought = options.think.count() > 0 ? lane_of_alarm(tag) : nullptr) {
      if (const auto index = claims.next()) {
        launch(*thought, *index);
      } else {
        --active;
      }
      continue;
    }
    Lane& lane = *static_cast<Lane*>(tag);
    count_call(options, lane, lane.slot->finish(ok), done - lane.started, out.result);
    out.last_completion = done;
    if (options.think.count() > 0) {
      lane.think.Set(&cq, std::chrono::system_clock::now() + options.think, &lane.think);
    } else if (const auto index = claims.next()) {
      launch(lane, *index);
    } else {
      --active;
    }
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

PhaseResult run_phase(const PhaseOptions& options, const CallPlan& plan,
                      const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  PhaseOptions o = options;
  o.concurrency = std::max<std::size_t>(1, o.concurrency);
  o.threads = std::clamp<std::size_t>(o.threads, 1, o.concurrency);

  const auto start = SteadyClock::now();
  Claims claims(o.count, start + o.duration);
  std::vector<WorkerResult> workers(o.threads);
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < o.threads; ++t) {
      threads.emplace_back([&, t] { work(o, plan, channels, t, claims, workers[t]); });
    }
  }  // joined

  PhaseResult total;
  SteadyClock::time_point end = start;
  for (WorkerResult& w : workers) {
    PhaseResult& r = w.result;
    total.calls += r.calls;
    total.ok += r.ok;
    for (const auto& [name, n] : r.errors) total.errors[name] += n;
    if (total.first_error.empty()) total.first_error = r.first_error;
    total.latency.merge(r.latency);
    total.ciphertext_bytes += r.ciphertext_bytes;
    total.records.insert(total.records.end(), r.records.begin(), r.records.end());
    if (w.last_completion) end = std::max(end, *w.last_completion);
  }
  std::sort(total.records.begin(), total.records.end(),
            [](const CallRecord& a, const CallRecord& b) { return a.index < b.index; });
  total.elapsed = end - start;
  return total;
}

}  // namespace trousseau::bench
