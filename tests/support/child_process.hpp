// A server a test starts itself (a KMS, an emulator, a test double): a child
// process in its own process group, its output in a log file, and a stop
// that waits until the whole group is gone, so that its port is free again.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trousseau::testkit {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  ///< stop()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Starts `argv` (argv[0] found on PATH) with stdout and stderr appended
  /// to `log_file`, in a new process group. Records a test failure when
  /// fork fails. Stops a process already running first.
  void start(const std::vector<std::string>& argv, const std::string& log_file);
  bool running() const { return pid_ > 0; }
  /// True when the process has exited (it is reaped).
  bool exited();
  pid_t pid() const { return pid_; }

  /// SIGTERM to the group, then waits until it is gone (SIGKILL after 5 s).
  /// Idempotent.
  void stop();
  /// SIGKILL to the group, as a crash would, and waits until it is gone.
  void kill();
  /// Sends `signal` to the group and returns (SIGSTOP freezes it, SIGCONT
  /// thaws it).
  void signal(int signal);

 private:
  void end(int signal);
  pid_t pid_ = -1;
};

/// A loopback TCP port that was free a moment ago (bind to port 0, read it,
/// close): for servers that cannot be told to pick their own.
std::uint16_t free_loopback_port();
/// Whether a TCP connection to 127.0.0.1:`port` is accepted now.
bool loopback_port_open(std::uint16_t port);
/// The last `bytes` of a file, for failure messages; "" if unreadable.
std::string file_tail(const std::string& path, std::size_t bytes = 2000);

}  // namespace trousseau::testkit
