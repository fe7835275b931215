// What /proc says about the server under load.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace trousseau::bench {

struct ProcessSample {
  std::uint64_t cpu_ticks = 0;    // utime + stime of all threads since start, in clock ticks
  std::uint64_t rss_kb = 0;       // VmRSS
  std::uint64_t peak_rss_kb = 0;  // VmHWM: the high-water mark since the process started
  std::uint64_t fds = 0;          // entries of /proc/<pid>/fd
};

/// CPU seconds spent from `start` to `end`.
double cpu_seconds(const ProcessSample& start, const ProcessSample& end);

/// Reads /proc/<pid>/stat, status and fd. nullopt, with the cause in
/// `error`, when the process is gone or its files cannot be read (another
/// user's process).
std::optional<ProcessSample> sample_process(pid_t pid, std::string& error);

}  // namespace trousseau::bench
