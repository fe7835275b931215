#include "support/serve_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "kms/client.hpp"
#include "support/command.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"

namespace trousseau::testkit {

ServeProcess::ServeProcess(const std::string& yaml) {
  const std::string text = complete_config(yaml, dir_);
  config::Diagnostics diag;
  auto cfg = config::load_string(text, diag);
  if (!cfg) {
    ADD_FAILURE() << "bad test configuration: " << (diag.errors().empty() ? "" : diag.errors()[0]);
    return;
  }
  socket_ = cfg->socket;
  write_file(config_path(), text);
  start();
}

void ServeProcess::start() {
  started_ = false;
  const std::string config = config_path();
  const std::string bin = trousseau_bin();
  const std::string out = dir_.file("serve.out"), err = dir_.file("serve.err");
  pid_ = ::fork();
  if (pid_ < 0) {
    ADD_FAILURE() << "fork failed";
    return;
  }
  if (pid_ == 0) {
    // A test process that crashes must not leave a server behind.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    // Appended: a restarted server's log follows the one before it.
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    ::execl(bin.c_str(), bin.c_str(), "serve", "--config", config.c_str(), nullptr);
    ::_exit(127);
  }
  // The socket appears (renamed into place) once the server listens.
  wait_until([&] {
    std::error_code ec;
    return std::filesystem::exists(socket_, ec) || exited();
  });
  if (pid_ < 0) {
    ADD_FAILURE() << "trousseau serve exited with status " << status_ << ":\n" << log();
    return;
  }
  v2::StatusResponse status;
  const grpc::Status answer =
      kms::Client(socket_, {.timeout = std::chrono::seconds(30)}).status(status);
  if (!answer.ok()) {
    ADD_FAILURE() << "trousseau serve does not answer Status: " << answer.error_message() << "\n"
                  << log();
    return;
  }
  started_ = true;
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) stop();
}

bool ServeProcess::exited() {
  if (pid_ <= 0) return true;
  if (::waitpid(pid_, &status_, WNOHANG) != pid_) return false;
  pid_ = -1;
  return true;
}

std::string ServeProcess::log() const {
  std::ifstream in(dir_.file("serve.err"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ServeProcess::signal(int sig) { return pid_ > 0 && ::kill(pid_, sig) == 0; }

void ServeProcess::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
}

bool ServeProcess::restart() {
  if (pid_ > 0) stop();
  start();
  return started_;
}

int ServeProcess::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

}  // namespace trousseau::testkit
