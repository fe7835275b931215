#include "support/wait.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace trousseau::testkit {

namespace {
std::mutex g_mutex;
std::condition_variable g_changed;
std::uint64_t g_generation = 0;  ///< under g_mutex: bumped by every notify
}  // namespace

void notify_waiters() {
  {
    std::lock_guard lock(g_mutex);
    ++g_generation;
  }
  g_changed.notify_all();
}

bool wait_until(const std::function<bool()>& done, std::chrono::seconds guard) {
  const auto give_up = std::chrono::steady_clock::now() + guard;
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(g_mutex);
      seen = g_generation;
    }
    // `done` runs without the lock: it may call into a server whose threads
    // notify (a fake provider answering), and they must never wait for it.
    // A notify after `seen` was read ends the wait below at once, so none
    // is missed.
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::unique_lock lock(g_mutex);
    g_changed.wait_for(lock, std::chrono::milliseconds(1), [&] { return g_generation != seen; });
  }
}

}  // namespace trousseau::testkit
