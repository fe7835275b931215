// The calls an injected provider answered, kept in memory on the request
// path and written out once, when the provider is destroyed: from them the
// bench computes each request's ideal latency (the k-th fastest drawn
// delay among its provider calls).
//
// The file has one line per call, six tab-separated fields:
//   request_id  provider  op  drawn_ns  outcome  actual_ns
// - request_id: CallOptions::request_id, "-" when empty (probes, v1beta1);
//   tabs and other control bytes of this untrusted text become '?'
// - op: wrap | unwrap | probe
// - drawn_ns: the delay drawn for the call in nanoseconds; "inf" for a hung
//   call, 0 for a probe or a call refused without any delay
// - outcome: ok | cancelled | deadline_exceeded, or the error code of a
//   call that answered with an error (integrity, invalid_argument);
//   "unfinished" for a call still open when the provider went away
// - actual_ns: from the call's start to the moment its answer was handed
//   back (Clock, so manual in tests): the drawn delay plus however late
//   this machine woke the timer; "-" for an unfinished call. The bench
//   uses it to tell the plugin's own cost from the timer's lateness.
// Lines are appended, under a process-wide lock, so providers may share
// one file; each provider truncates its file when it is created.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/error.hpp"

namespace trousseau::bench::injected {

enum class Op { wrap, unwrap, probe };

class CallLog {
 public:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  /// Records for `path`; records nothing when `path` is empty.
  explicit CallLog(std::string path);

  /// Creates or empties the file at `path`, so that a bad path fails at
  /// start-up rather than at shutdown.
  static Error prepare(const std::string& path);

  /// Notes a call that starts; returns its index for end(), kNone when not
  /// recording. `drawn` is nullopt for a hung call. Thread-safe.
  std::size_t begin(std::string_view request_id, Op op,
                    std::optional<std::chrono::nanoseconds> drawn);
  /// Sets the outcome of the call `index` (kNone: nothing) and notes when
  /// it ended. Thread-safe.
  void end(std::size_t index, Code outcome);

  /// Appends every line, as `provider`, to the file.
  Error write(std::string_view provider) const;

 private:
  struct Entry {
    std::string request_id;
    Op op;
    std::optional<std::chrono::nanoseconds> drawn;
    std::optional<Code> outcome;
    Clock::time_point started;
    Clock::time_point ended;
  };

  const std::string path_;
  mutable std::mutex mutex_;
  std::deque<Entry> entries_;
};

}  // namespace trousseau::bench::injected
