// An in-repo test double (a Python script under tests/doubles/) as a child
// process: started on port 0 with a ready file, its output in a log file,
// stopped by closing its standard input (so that it dies with us even if
// we crash) and SIGTERM; and the HTTPS calls tests make to its controls.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace trousseau::testkit {

/// Debian's interpreter, which imports Debian's python3-cryptography
/// (scripts/install-deps --test), even when a pyenv python3 comes first on
/// PATH (scripts/test puts one there for moto); any python3 elsewhere.
std::string python3();

/// The whole file, or "" when it cannot be read.
std::string read_text_file(const std::string& path);

class DoubleProcess {
 public:
  DoubleProcess() = default;
  ~DoubleProcess();  ///< stop()
  DoubleProcess(const DoubleProcess&) = delete;
  DoubleProcess& operator=(const DoubleProcess&) = delete;

  /// Runs `argv` (argv[0] looked up on PATH) with its standard input a pipe
  /// and its output appended to `log`, and waits until it writes
  /// `ready_file` (whose first line becomes url()) or exits. Failures are
  /// recorded with ADD_FAILURE naming `what` and showing the log; check
  /// running().
  void start(std::vector<std::string> argv, const std::string& ready_file, const std::string& log,
             const std::string& what);
  /// Closes the double's standard input, SIGTERMs it and waits for it.
  void stop();
  /// Sends `sig` to the double: SIGSTOP freezes it with its sockets open,
  /// SIGCONT thaws it.
  void signal(int sig) const;

  bool running() const { return pid_ > 0; }
  const std::string& url() const { return url_; }  ///< what the ready file said

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::string url_;
};

struct DoubleReply {
  unsigned status = 0;  ///< 0: no answer
  std::string body;
};

/// One request to a double, trusting `ca_file`, with no retry (the controls
/// must see exactly what the double says) and a far deadline (a guard on a
/// clock tests may hold still, not a bound). A transport error is recorded
/// with ADD_FAILURE.
DoubleReply double_request(const std::string& ca_file, const std::string& method,
                           const std::string& url, const std::string& body,
                           const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace trousseau::testkit
