// A real Trousseau server in the test process, on a socket in a temp dir.
#pragma once

#include <memory>
#include <string>

#include "daemon/daemon.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::testkit {

class RunningServer {
 public:
  /// `yaml` is a configuration in which "{dir}" stands for a fresh private
  /// directory; `socket` and `state_dir` are filled in when absent.
  /// Fails the current test (ADD_FAILURE) when the server does not start.
  explicit RunningServer(const std::string& yaml);
  ~RunningServer();

  bool started() const { return server_ != nullptr; }
  daemon::Daemon& server() { return *server_; }
  const std::string& socket() const { return socket_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::string socket_;
  std::unique_ptr<daemon::Daemon> server_;
};

std::string replace_all(std::string text, const std::string& from, const std::string& to);

/// `yaml` with "{dir}" replaced by `dir`, and a `socket` (<dir>/kms.sock)
/// and a `state_dir` (<dir>/state) added when it has none.
std::string complete_config(const std::string& yaml, const TempDir& dir);

}  // namespace trousseau::testkit
