// The one clock behind every deadline, timeout, hold-off and timer in
// Trousseau, so that tests can stop time and move it themselves.
//
// In production Clock::now() is std::chrono::steady_clock::now(). A test
// that holds a ManualTime sees time stand still until it calls advance():
// timers then fire in expiry order, and nothing depends on how fast the
// machine is.
#pragma once

#include <boost/asio/basic_waitable_timer.hpp>
#include <chrono>
#include <cstdint>

namespace trousseau {

class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept;
};

/// How long the reactor may sleep before it looks at Clock again. Under
/// ManualTime it wakes at least every millisecond to notice advance().
struct ClockWaitTraits {
  static Clock::duration to_wait_duration(const Clock::duration& d);
  static Clock::duration to_wait_duration(const Clock::time_point& t);
};

using Timer = boost::asio::basic_waitable_timer<Clock, ClockWaitTraits>;

/// Test-only: while an instance lives, Clock::now() stands still except
/// when advance() moves it. Instances alive at once share one time. Create
/// it before the timers it should govern and destroy it after they are gone.
class ManualTime {
 public:
  ManualTime();
  ~ManualTime();
  ManualTime(const ManualTime&) = delete;
  ManualTime& operator=(const ManualTime&) = delete;

  void advance(Clock::duration by);
};

}  // namespace trousseau
