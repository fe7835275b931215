#include "support/double_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "http/client.hpp"
#include "support/wait.hpp"

namespace trousseau::testkit {

std::string python3() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

DoubleProcess::~DoubleProcess() { stop(); }

void DoubleProcess::start(std::vector<std::string> args, const std::string& ready,
                          const std::string& log, const std::string& what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[0], 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  stdin_fd_ = fds[1];  // closing it stops the double, even if we crash
  if (pid_ < 0) {
    ADD_FAILURE() << "fork failed";
    return;
  }
  const bool up = wait_until([&] {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;  // exited: reported below
    }
    return std::filesystem::exists(ready) && !read_text_file(ready).empty();
  });
  if (!up || pid_ <= 0) {
    ADD_FAILURE() << what << " did not start\n" << read_text_file(log);
    stop();
    return;
  }
  url_ = read_text_file(ready);
  url_ = url_.substr(0, url_.find_first_of("\r\n"));
}

void DoubleProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

void DoubleProcess::stop() {
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

DoubleReply double_request(const std::string& ca_file, const std::string& method,
                           const std::string& url, const std::string& body,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  boost::asio::io_context io;
  http::ClientOptions co;
  co.ca_file = ca_file;
  co.allow_plain_http = ca_file.empty();
  co.retry.max_attempts = 1;  // the controls must see exactly what the double says
  auto client = http::Client::create(io.get_executor(), co);
  if (!client.ok()) {
    ADD_FAILURE() << client.error().message();
    return {};
  }
  Result<http::Url> parsed = http::Url::parse(url);
  if (!parsed.ok()) {
    ADD_FAILURE() << url << ": " << parsed.error().message();
    return {};
  }
  http::Request req;
  req.method = method;
  req.url = std::move(parsed).value();
  req.body = body;
  for (const auto& [name, value] : headers) req.headers.push_back({name, value});
  DoubleReply out;
  // Far off, on a clock that tests may hold still: a guard, not a bound.
  (*client)->async_request(std::move(req), Clock::now() + std::chrono::hours(24),
                           [&](Error e, http::Response r) {
                             if (!e.ok() && r.status == 0) ADD_FAILURE() << url << ": " << e.message();
                             out = {r.status, r.body};
                           });
  io.run();
  return out;
}

}  // namespace trousseau::testkit
