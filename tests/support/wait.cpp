#include "support/wait.hpp"

#include <condition_variable>
#include <mutex>

namespace trousseau::testkit {

namespace {
std::mutex g_mutex;
std::condition_variable g_changed;
}  // namespace

void notify_waiters() {
  { std::lock_guard lock(g_mutex); }
  g_changed.notify_all();
}

bool wait_until(const std::function<bool()>& done, std::chrono::seconds guard) {
  const auto give_up = std::chrono::steady_clock::now() + guard;
  std::unique_lock lock(g_mutex);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    g_changed.wait_for(lock, std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace trousseau::testkit
