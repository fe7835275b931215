// The real `trousseau serve` ($TROUSSEAU_BIN) in a child process, on a
// configuration and socket in a temp dir: what an operator's commands talk
// to in production.
#pragma once

#include <sys/types.h>

#include <string>

#include "support/temp_dir.hpp"

namespace trousseau::testkit {

class ServeProcess {
 public:
  /// Writes `yaml` (see complete_config) to <dir>/config.yaml, starts the
  /// server on it, and returns once Status answers on its socket. When the
  /// process exits first, or does not answer, the current test fails with
  /// what it printed and started() is false.
  explicit ServeProcess(const std::string& yaml);
  /// stop(), if it was not called.
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  bool started() const { return started_; }
  pid_t pid() const { return pid_; }  ///< -1 once it has exited
  const std::string& socket() const { return socket_; }
  const TempDir& dir() const { return dir_; }
  /// What the server printed on standard error so far (its log).
  std::string log() const;

  /// SIGTERM, then waits for the process. Its exit code, -1 after a signal.
  int stop();
  /// SIGKILL, as a crash or the OOM killer would, and waits for it.
  void kill();
  /// Starts the server again on the same configuration, socket and state
  /// directory; returns once Status answers (started() says whether it did).
  bool restart();
  /// Sends `sig` (SIGHUP: reload) to the running server; false once it is gone.
  bool signal(int sig);
  /// The configuration file it serves, for a test to rewrite.
  std::string config_path() const { return dir_.file("config.yaml"); }

 private:
  bool exited();  ///< reaps the child if it is gone
  void start();   ///< forks `trousseau serve` on config_path() and waits for Status

  TempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool started_ = false;
};

}  // namespace trousseau::testkit
