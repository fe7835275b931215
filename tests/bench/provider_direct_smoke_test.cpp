// trousseau-provider-bench as the benchmarks run it: a Trousseau config in
// a private directory, the built tool as a separate process, its JSON
// report. Only lower bounds on time: the machine's speed decides nothing.
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "support/json_fields.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace trousseau::bench {
namespace {

using testkit::number;
using testkit::TempDir;

/// Runs argv[0] with `argv` and waits for it: its exit status, or -1 when
/// it did not start or was killed by a signal.
int run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct BenchRun {
  int exit_status = -1;
  bool has_report = false;
  boost::json::object report;
};

class ProviderBench : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tool_.empty()) << "TROUSSEAU_PROVIDER_BENCH must name trousseau-provider-bench";
    Bytes key(32);
    random_fill(key);
    testkit::write_file(dir_.file("local.key"), base64_encode(key) + "\n");
    // Every provider must sit in a policy slot for the config to load.
    testkit::write_file(config_,
                        "socket: " + dir_.file("kms.sock") + "\n"
                        "state_dir: " + dir_.file("state") + "\n"
                        "providers:\n"
                        "  - name: local\n"
                        "    type: keyfile\n"
                        "    path: " + dir_.file("local.key") + "\n"
                        "  - name: slow\n"
                        "    type: injected\n"
                        "    delay: {distribution: constant, value: 1ms}\n"
                        "  - name: stuck\n"
                        "    type: injected\n"
                        "    hang: true\n"
                        "policy:\n"
                        "  threshold: 1\n"
                        "  min_encrypt_slots: 1\n"
                        "  slots:\n"
                        "    - providers: [local]\n"
                        "    - providers: [slow]\n"
                        "    - providers: [stuck]\n");
  }

  /// Runs the tool on the config and parses its report, if it wrote one.
  BenchRun bench(std::vector<std::string> args) {
    const std::string out = dir_.file("report-" + std::to_string(runs_++) + ".json");
    args.insert(args.begin(), {tool_, "--config", config_, "--out", out});
    BenchRun run;
    run.exit_status = run_process(args);
    if (!std::filesystem::exists(out)) return run;
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text.str(), ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "no JSON object in " << out << ": " << text.str();
      return run;
    }
    run.has_report = true;
    run.report = v.as_object();
    return run;
  }

  TempDir dir_;
  const std::string config_ = dir_.file("trousseau.yaml");
  const std::string tool_ = [] {
    const char* path = std::getenv("TROUSSEAU_PROVIDER_BENCH");
    return std::string(path != nullptr ? path : "");
  }();
  int runs_ = 0;
};

std::string text(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    ADD_FAILURE() << "no string " << key << " in " << boost::json::serialize(o);
    return "";
  }
  return std::string(v->as_string());
}

const boost::json::object& latency(const BenchRun& run) { return run.report.at("latency_ms").as_object(); }

/// Every call succeeded, and the percentiles are in order.
void expect_complete_run(const BenchRun& run, const std::string& provider, const std::string& type,
                         const std::string& op, double count, double concurrency) {
  ASSERT_EQ(run.exit_status, 0);
  ASSERT_TRUE(run.has_report);
  const boost::json::object& r = run.report;
  EXPECT_EQ(text(r, "provider"), provider);
  EXPECT_EQ(text(r, "type"), type);
  EXPECT_EQ(text(r, "op"), op);
  EXPECT_EQ(number(r, "concurrency"), concurrency);
  EXPECT_EQ(number(r, "requests"), count);
  EXPECT_EQ(number(r, "ok"), count);
  ASSERT_TRUE(r.contains("errors"));
  EXPECT_TRUE(r.at("errors").as_object().empty()) << boost::json::serialize(r.at("errors"));
  EXPECT_FALSE(r.contains("first_error"));
  EXPECT_GT(number(r, "seconds"), 0);
  EXPECT_GT(number(r, "throughput_per_second"), 0);

  ASSERT_TRUE(r.contains("latency_ms"));
  const boost::json::object& l = latency(run);
  EXPECT_GT(number(l, "p50"), 0);
  EXPECT_LE(number(l, "p50"), number(l, "p90"));
  EXPECT_LE(number(l, "p90"), number(l, "p99"));
  EXPECT_LE(number(l, "p99"), number(l, "p99.9"));
  EXPECT_LE(number(l, "p99.9"), number(l, "max"));
  EXPECT_GT(number(l, "mean"), 0);
  EXPECT_LE(number(l, "mean"), number(l, "max"));
}

TEST_F(ProviderBench, KeyfileWrapsAndUnwrapsEveryCallWithoutErrors) {
  for (const char* op : {"wrap", "unwrap"}) {
    SCOPED_TRACE(op);
    const BenchRun run = bench({"--provider", "local", "--op", op, "--count", "500",
                                "--concurrency", "4", "--warmup", "20"});
    expect_complete_run(run, "local", "keyfile", op, 500, 4);
  }
}

TEST_F(ProviderBench, AnInjectedDelayIsALowerBoundOnTheMeasuredLatency) {
  for (const char* op : {"wrap", "unwrap"}) {
    SCOPED_TRACE(op);
    const BenchRun run = bench({"--provider", "slow", "--op", op, "--count", "100",
                                "--concurrency", "4", "--warmup", "4"});
    expect_complete_run(run, "slow", "injected", op, 100, 4);
    if (!run.has_report) continue;
    EXPECT_GE(number(latency(run), "p50"), 1.0);
    EXPECT_GE(number(latency(run), "mean"), 1.0);
  }
}

TEST_F(ProviderBench, MoreCallsOutstandingThanCallsMakesEachCallOnce) {
  const BenchRun run = bench({"--provider", "local", "--op", "unwrap", "--count", "3",
                              "--concurrency", "16", "--warmup", "0"});
  expect_complete_run(run, "local", "keyfile", "unwrap", 3, 16);
}

TEST_F(ProviderBench, CallsThatMissTheirDeadlineAreCountedByCodeAndTheRunCompletes) {
  const BenchRun run = bench({"--provider", "stuck", "--op", "wrap", "--count", "12",
                              "--concurrency", "4", "--warmup", "0", "--timeout-ms", "20"});
  ASSERT_EQ(run.exit_status, 0);
  ASSERT_TRUE(run.has_report);
  EXPECT_EQ(number(run.report, "requests"), 12);
  EXPECT_EQ(number(run.report, "ok"), 0);
  const boost::json::object& errors = run.report.at("errors").as_object();
  EXPECT_EQ(errors.size(), 1u) << boost::json::serialize(errors);
  EXPECT_EQ(number(errors, "deadline_exceeded"), 12);
  EXPECT_EQ(text(run.report, "first_error").rfind("deadline_exceeded: ", 0), 0u);
}

TEST_F(ProviderBench, AnUnwrapRunFailsWithoutAReportWhenTheShareCannotBeWrapped) {
  const BenchRun run = bench({"--provider", "stuck", "--op", "unwrap", "--count", "10",
                              "--timeout-ms", "20"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_FALSE(run.has_report);
}

TEST_F(ProviderBench, AProviderTheConfigDoesNotDefineIsRefused) {
  const BenchRun run = bench({"--provider", "elsewhere", "--op", "wrap", "--count", "10"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_FALSE(run.has_report);
}

}  // namespace
}  // namespace trousseau::bench
