#include "proc_stats.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace trousseau::bench {

namespace {

/// utime + stime. The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted from its last ')'.
std::optional<std::uint64_t> cpu_ticks(const std::string& dir) {
  std::ifstream in(dir + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;  // state .. cmajflt
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  return utime + stime;
}

/// The kB value of a "Name:  1234 kB" line of /proc/<pid>/status.
std::optional<std::uint64_t> status_kb(const std::string& status, const std::string& name) {
  const auto at = status.find("\n" + name + ":");
  if (at == std::string::npos) return std::nullopt;
  std::istringstream value(status.substr(at + name.size() + 2));
  std::uint64_t kb = 0;
  if (!(value >> kb)) return std::nullopt;
  return kb;
}

}  // namespace

double cpu_seconds(const ProcessSample& start, const ProcessSample& end) {
  const auto ticks = static_cast<double>(end.cpu_ticks - start.cpu_ticks);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::optional<ProcessSample> sample_process(pid_t pid, std::string& error) {
  const std::string dir = "/proc/" + std::to_string(pid);
  ProcessSample s;
  const auto cpu = cpu_ticks(dir);
  if (!cpu) {
    error = "cannot read " + dir + "/stat";
    return std::nullopt;
  }
  s.cpu_ticks = *cpu;

  std::ifstream in(dir + "/status");
  const std::string status = "\n" + std::string(std::istreambuf_iterator<char>(in), {});
  const auto rss = status_kb(status, "VmRSS");
  const auto hwm = status_kb(status, "VmHWM");
  if (!rss || !hwm) {
    error = "no VmRSS or VmHWM in " + dir + "/status";
    return std::nullopt;
  }
  s.rss_kb = *rss;
  s.peak_rss_kb = *hwm;

  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++s.fds;
  }
  if (ec) {
    error = "cannot list " + dir + "/fd: " + ec.message();
    return std::nullopt;
  }
  return s;
}

}  // namespace trousseau::bench
