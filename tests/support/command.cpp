#include "support/command.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/temp_dir.hpp"

namespace trousseau::testkit {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input) {
  TempDir dir;
  const std::string in = dir.file("stdin"), out = dir.file("stdout"), err = dir.file("stderr");
  write_file(in, input);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  CommandResult result;
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.err = "fork failed";
    return result;
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    const int fds[3] = {::open(in.c_str(), O_RDONLY),
                        ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600),
                        ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600)};
    for (int i = 0; i < 3; ++i) {
      if (fds[i] < 0 || ::dup2(fds[i], i) < 0) ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      result.err = "waitpid failed";
      return result;
    }
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.out = read_all(out);
  result.err = read_all(err);
  return result;
}

CommandResult run_trousseau(std::vector<std::string> args, const std::string& input) {
  args.insert(args.begin(), trousseau_bin());
  return run_command(args, input);
}

std::string trousseau_bin() {
  const char* bin = std::getenv("TROUSSEAU_BIN");
  if (bin == nullptr) {
    ADD_FAILURE() << "TROUSSEAU_BIN must point at the trousseau binary (meson test sets it)";
    return "/nonexistent/trousseau";
  }
  return bin;
}

}  // namespace trousseau::testkit
