// trousseau-loadgen against trousseau-floor, both as the benchmarks run
// them: separate processes on a unix socket in a private directory.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/json_fields.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace trousseau::bench {
namespace {

using testkit::number;
using testkit::TempDir;

std::string binary(const char* variable) {
  const char* path = std::getenv(variable);
  return path != nullptr ? path : "";
}

/// A child process, optionally with its stdout on a pipe to us. Killed and
/// reaped on destruction if still running.
class Child {
 public:
  Child(const std::vector<std::string>& argv, bool pipe_stdout) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int fds[2] = {-1, -1};
    if (pipe_stdout && ::pipe2(fds, O_CLOEXEC) == 0) {
      posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);  // dup2 clears CLOEXEC
    }
    if (::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    if (fds[1] >= 0) ::close(fds[1]);
    stdout_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (stdout_ >= 0) ::close(stdout_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  /// The next line of the child's stdout, without its newline; blocks until
  /// there is one. Empty at end of file.
  std::string read_line() {
    std::string line;
    char c = 0;
    for (;;) {
      const ssize_t n = ::read(stdout_, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || c == '\n') return line;
      line += c;
    }
  }

  /// The exit status; -1 when killed by a signal or not started.
  int wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    pid_t reaped = -1;
    do {
      reaped = ::waitpid(pid_, &status, 0);
    } while (reaped < 0 && errno == EINTR);
    pid_ = -1;
    if (reaped < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

 private:
  pid_t pid_ = -1;
  int stdout_ = -1;
};

/// What one loadgen run printed.
struct LoadgenRun {
  int exit_status = -1;
  boost::json::object report;
};

class LoadgenAgainstFloor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(binary("TROUSSEAU_FLOOR").empty()) << "TROUSSEAU_FLOOR must name trousseau-floor";
    ASSERT_FALSE(binary("TROUSSEAU_LOADGEN").empty())
        << "TROUSSEAU_LOADGEN must name trousseau-loadgen";
    std::vector<std::string> argv{binary("TROUSSEAU_FLOOR"), "--socket", socket_};
    const std::vector<std::string> extra = floor_args();
    argv.insert(argv.end(), extra.begin(), extra.end());
    floor_ = std::make_unique<Child>(argv, true);
    ASSERT_TRUE(floor_->started());
    ASSERT_EQ(floor_->read_line(), "ready");  // blocks until the floor serves
  }

  void TearDown() override {
    if (floor_ && floor_->started()) {
      floor_->signal(SIGTERM);
      EXPECT_EQ(floor_->wait(), 0) << "the floor did not stop cleanly on SIGTERM";
    }
  }

  virtual std::vector<std::string> floor_args() const { return {}; }

  /// Runs the load generator against the floor, with --server-pid, and
  /// parses its report.
  LoadgenRun loadgen(std::vector<std::string> args) {
    const std::string out = dir_.file("report-" + std::to_string(runs_++) + ".json");
    args.insert(args.begin(), {binary("TROUSSEAU_LOADGEN"), "--socket", socket_, "--out", out,
                               "--server-pid", std::to_string(floor_->pid())});
    LoadgenRun run;
    Child child(args, false);
    EXPECT_TRUE(child.started());
    run.exit_status = child.wait();
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text.str(), ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "no JSON report in " << out << ": " << text.str();
      return run;
    }
    run.report = v.as_object();
    return run;
  }

  TempDir dir_;
  const std::string socket_ = dir_.file("floor.sock");
  std::unique_ptr<Child> floor_;
  int runs_ = 0;
};

void expect_complete_run(const LoadgenRun& run, double count) {
  ASSERT_EQ(run.exit_status, 0);
  const boost::json::object& r = run.report;
  EXPECT_EQ(number(r, "requests"), count);
  EXPECT_EQ(number(r, "ok"), count);
  ASSERT_TRUE(r.contains("errors"));
  EXPECT_TRUE(r.at("errors").as_object().empty()) << boost::json::serialize(r.at("errors"));
  EXPECT_GT(number(r, "seconds"), 0);
  EXPECT_GT(number(r, "throughput_per_second"), 0);

  ASSERT_TRUE(r.contains("latency_ms"));
  const boost::json::object& latency = r.at("latency_ms").as_object();
  EXPECT_GT(number(latency, "p50"), 0);
  EXPECT_LE(number(latency, "p50"), number(latency, "p90"));
  EXPECT_LE(number(latency, "p90"), number(latency, "p99"));
  EXPECT_LE(number(latency, "p99"), number(latency, "p99.9"));
  EXPECT_LE(number(latency, "p99.9"), number(latency, "max"));
  EXPECT_GT(number(latency, "mean"), 0);
  EXPECT_LE(number(latency, "mean"), number(latency, "max"));

  ASSERT_TRUE(r.contains("server")) << boost::json::serialize(r);
  const boost::json::object& server = r.at("server").as_object();
  EXPECT_GE(number(server, "cpu_seconds"), 0);
  EXPECT_GE(number(server, "cpu_us_per_request"), 0);
  EXPECT_GT(number(server, "rss_start_kb"), 0);
  EXPECT_GT(number(server, "rss_end_kb"), 0);
  EXPECT_GE(number(server, "peak_rss_kb"), number(server, "rss_end_kb"));
  EXPECT_GT(number(server, "fds_start"), 0);
  EXPECT_GT(number(server, "fds_end"), 0);
}

TEST_F(LoadgenAgainstFloor, EveryOperationOfBothApisCompletesWithoutErrors) {
  struct Case {
    const char* api;
    const char* op;
    const char* reported_op;
  };
  for (const Case& c :
       {Case{"v2", "status", "status"}, Case{"v2", "encrypt", "encrypt"},
        Case{"v2", "decrypt", "decrypt"}, Case{"v1beta1", "status", "version"},
        Case{"v1beta1", "encrypt", "encrypt"}, Case{"v1beta1", "decrypt", "decrypt"}}) {
    SCOPED_TRACE(std::string(c.api) + " " + c.op);
    const LoadgenRun run = loadgen({"--api", c.api, "--op", c.op, "--count", "300", "--concurrency",
                                    "8", "--warmup", "20", "--channels", "2"});
    expect_complete_run(run, 300);
    EXPECT_EQ(std::string_view(run.report.at("api").as_string()), c.api);
    EXPECT_EQ(std::string_view(run.report.at("op").as_string()), c.reported_op);
    EXPECT_EQ(number(run.report, "concurrency"), 8);
    if (std::string(c.op) == "encrypt") {
      EXPECT_EQ(number(run.report, "mean_envelope_bytes"), 120);  // the floor's envelope
    } else {
      EXPECT_FALSE(run.report.contains("mean_envelope_bytes"));
    }
  }
}

TEST_F(LoadgenAgainstFloor, DistinctDecryptsLogOneUniqueUidPerMeasuredCall) {
  const std::string log = dir_.file("uids.log");
  const LoadgenRun run = loadgen({"--op", "decrypt", "--distinct", "200", "--count", "200",
                                  "--concurrency", "16", "--threads", "2", "--uid-log", log});
  expect_complete_run(run, 200);
  EXPECT_EQ(number(run.report, "distinct"), 200);

  std::ifstream in(log);
  std::set<std::string> uids;
  std::string uid;
  long long latency_ns = -1;
  int code = -1;
  int lines = 0;
  while (in >> uid >> latency_ns >> code) {
    ++lines;
    uids.insert(uid);
    EXPECT_EQ(uid.rfind("lg-", 0), 0u) << uid;
    EXPECT_GT(latency_ns, 0);
    EXPECT_EQ(code, 0);
  }
  EXPECT_EQ(lines, 200);
  EXPECT_EQ(uids.size(), 200u);
}

// With a think time, each slot waits on an alarm before its next call:
// every call is still made and measured, and the run cannot be shorter than
// the waits (a lower bound, whatever the machine's speed).
TEST_F(LoadgenAgainstFloor, ThinkTimeWaitsBetweenAnAnswerAndTheSlotsNextCall) {
  const LoadgenRun run = loadgen({"--op", "decrypt", "--count", "100", "--concurrency", "4",
                                  "--threads", "2", "--warmup", "0", "--think-ms", "2"});
  expect_complete_run(run, 100);
  EXPECT_EQ(number(run.report, "think_ms"), 2);
  // 25 calls per slot, 24 waits of 2 ms between them.
  EXPECT_GE(number(run.report, "seconds"), 24 * 0.002);
}

class LoadgenAgainstDelayedFloor : public LoadgenAgainstFloor {
 protected:
  std::vector<std::string> floor_args() const override { return {"--delay-ms", "5"}; }
};

// The floor of a request that waits on a KMS: every answer comes after the
// delay, never before it (a lower bound, whatever the machine's speed).
TEST_F(LoadgenAgainstDelayedFloor, EveryAnswerComesAfterTheDelay) {
  const LoadgenRun run = loadgen({"--op", "decrypt", "--count", "40", "--concurrency", "4",
                                  "--warmup", "4"});
  expect_complete_run(run, 40);
  const auto& latency = run.report.at("latency_ms").as_object();
  EXPECT_GE(number(latency, "p50"), 5.0 * 0.996);  // the histogram's 0.4 % bucket error
}

class LoadgenAgainstFailingFloor : public LoadgenAgainstFloor {
 protected:
  std::vector<std::string> floor_args() const override { return {"--fail-every", "4"}; }
};

TEST_F(LoadgenAgainstFailingFloor, FailedCallsAreCountedByStatusAndTheRunCompletes) {
  const std::string log = dir_.file("uids.log");
  const LoadgenRun run = loadgen({"--op", "status", "--count", "100", "--concurrency", "4",
                                  "--warmup", "0", "--uid-log", log});
  ASSERT_EQ(run.exit_status, 0);
  EXPECT_EQ(number(run.report, "requests"), 100);
  EXPECT_EQ(number(run.report, "ok"), 75);
  const boost::json::object& errors = run.report.at("errors").as_object();
  EXPECT_EQ(errors.size(), 1u) << boost::json::serialize(errors);
  EXPECT_EQ(number(errors, "UNAVAILABLE"), 25);
  EXPECT_TRUE(run.report.contains("first_error"));
  EXPECT_TRUE(run.report.contains("server"));

  std::ifstream in(log);
  std::string uid;
  long long latency_ns = -1;
  int code = -1;
  std::map<int, int> codes;
  while (in >> uid >> latency_ns >> code) ++codes[code];
  EXPECT_EQ(codes, (std::map<int, int>{{0, 75}, {14, 25}}));  // OK, UNAVAILABLE
}

TEST_F(LoadgenAgainstFloor, FloorStopsOnSigtermWithExitZeroAndRemovesItsSocket) {
  ASSERT_TRUE(std::filesystem::exists(socket_));
  floor_->signal(SIGTERM);
  EXPECT_EQ(floor_->wait(), 0);
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

}  // namespace
}  // namespace trousseau::bench
