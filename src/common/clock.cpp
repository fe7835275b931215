#include "common/clock.hpp"

#include <atomic>
#include <mutex>

namespace trousseau {

namespace {
// The frozen time in ticks since the steady clock's epoch while a
// ManualTime lives; kReal otherwise. One relaxed load on the hot path.
constexpr Clock::rep kReal = -1;
std::atomic<Clock::rep> g_manual{kReal};
// ManualTimes alive: nested ones share the first one's time.
std::mutex g_instances_mutex;
int g_instances = 0;
}  // namespace

Clock::time_point Clock::now() noexcept {
  const rep manual = g_manual.load(std::memory_order_acquire);
  if (manual == kReal) return time_point(std::chrono::steady_clock::now().time_since_epoch());
  return time_point(duration(manual));
}

Clock::duration ClockWaitTraits::to_wait_duration(const Clock::duration& d) {
  if (g_manual.load(std::memory_order_acquire) == kReal) return d;
  // Manual time moves only by advance(): look again soon, and at once for
  // a timer that is already due.
  return std::min<Clock::duration>(d, std::chrono::milliseconds(1));
}

Clock::duration ClockWaitTraits::to_wait_duration(const Clock::time_point& t) {
  return to_wait_duration(t - Clock::now());
}

ManualTime::ManualTime() {
  std::lock_guard lock(g_instances_mutex);
  if (g_instances++ == 0) {
    g_manual.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                   std::memory_order_release);
  }
}

ManualTime::~ManualTime() {
  std::lock_guard lock(g_instances_mutex);
  // Back to real time with the last one. Timers armed in manual time may now
  // lie ahead of the steady clock; the header asks tests to drop them first.
  if (--g_instances == 0) g_manual.store(kReal, std::memory_order_release);
}

void ManualTime::advance(Clock::duration by) {
  g_manual.fetch_add(by.count(), std::memory_order_acq_rel);
}

}  // namespace trousseau
