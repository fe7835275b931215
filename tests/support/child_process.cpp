#include "support/child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "support/wait.hpp"
#include <fstream>
#include <sstream>

namespace trousseau::testkit {

ChildProcess::~ChildProcess() { stop(); }

void ChildProcess::start(const std::vector<std::string>& argv, const std::string& log_file) {
  stop();
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  if (pid_ < 0) {
    ADD_FAILURE() << "fork failed";
    return;
  }
  ::setpgid(pid_, pid_);  // also here, so that stop() cannot race the child
}

bool ChildProcess::exited() {
  if (pid_ <= 0) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    ::kill(-pid_, SIGKILL);  // whatever it left behind in its group
    pid_ = -1;
    return true;
  }
  return false;
}

void ChildProcess::stop() { end(SIGTERM); }
void ChildProcess::kill() { end(SIGKILL); }

void ChildProcess::signal(int signal) {
  if (pid_ > 0) ::kill(-pid_, signal);
}

void ChildProcess::end(int signal) {
  if (pid_ <= 0) return;
  ::kill(-pid_, signal);
  // Waits on the process state: our child reaped, then the rest of its
  // group gone. The guard only turns a process that ignores SIGTERM into a
  // SIGKILL; nothing is ordered by it.
  bool reaped = false;
  int status = 0;
  const bool gone = wait_until(
      [&] {
        reaped = reaped || ::waitpid(pid_, &status, WNOHANG) == pid_;
        return reaped && ::kill(-pid_, 0) != 0;
      },
      std::chrono::seconds(5));
  if (!gone) {
    ::kill(-pid_, SIGKILL);
    if (!reaped) ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool loopback_port_open(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return open;
}

std::string file_tail(const std::string& path, std::size_t bytes) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

}  // namespace trousseau::testkit
