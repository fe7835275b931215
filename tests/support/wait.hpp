// Waiting on state instead of sleeping: tests never order events by time.
#pragma once

#include <chrono>
#include <functional>
#include <future>

namespace trousseau::testkit {

/// Returns once `done()` holds, re-checking whenever a fake provider changes
/// state and at least every millisecond. Gives up (false) only after a long
/// real-time guard, so that a broken build fails with a message instead of
/// hanging until the test runner's timeout; no test relies on the guard.
bool wait_until(const std::function<bool()>& done,
                std::chrono::seconds guard = std::chrono::seconds(60));

/// Wakes every wait_until(): fakes call it whenever their state changes.
void notify_waiters();

/// Whether `f` holds its result now (never waits).
template <typename T>
bool ready(const std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

}  // namespace trousseau::testkit
