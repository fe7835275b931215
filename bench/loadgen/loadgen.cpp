// trousseau-loadgen: drives a KMS plugin's v2 or v1beta1 API over its unix
// socket with a fixed number of calls outstanding, and prints one JSON
// object: throughput, latency percentiles, errors by status and, with
// --server-pid, the server's CPU, memory and descriptors.
//
// Phases, each run to completion before the next starts:
//  1. Decrypt only: encrypt --distinct + 1 plaintexts, not measured. The
//     first ciphertext serves the warm-up, and the measured phase when
//     --distinct is 0; otherwise the measured calls decrypt the other N in
//     turn, so that --count N decrypts each exactly once.
//  2. --warmup calls of the operation, not measured.
//  3. The measured calls (--count, or as many as --duration allows); the
//     server is sampled from /proc just before and just after.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <iostream>
#include <random>

#include "proc_stats.hpp"
#include "report.hpp"
#include "runner.hpp"

namespace {

using namespace trousseau::bench;

struct Options {
  std::string socket;
  std::string api = "v2";
  std::string op = "decrypt";
  std::size_t concurrency = 1;
  std::uint64_t count = 0;
  double duration_s = 0;
  std::uint64_t warmup = 100;
  std::size_t plaintext_size = 32;
  std::size_t channels = 1;
  std::size_t threads = 1;
  std::uint64_t distinct = 0;
  int server_pid = 0;
  std::string uid_log;
  std::string out;
  std::int64_t deadline_ms = 3000;
  std::int64_t connect_timeout_ms = 10000;
  double think_ms = 0;
};

/// Each channel is a connection of its own: channels with equal arguments
/// would otherwise share one from gRPC's global subchannel pool.
std::vector<std::shared_ptr<grpc::Channel>> connect(const Options& o, std::string& error) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const auto until =
      std::chrono::system_clock::now() + std::chrono::milliseconds(o.connect_timeout_ms);
  for (std::size_t i = 0; i < o.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "localhost");  // as kube-apiserver dials
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel =
        grpc::CreateCustomChannel("unix://" + o.socket, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(until)) {
      error = "cannot connect to unix://" + o.socket + " within " +
              std::to_string(o.connect_timeout_ms) + " ms";
      return {};
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

std::string random_bytes(std::size_t n) {
  std::mt19937_64 random{std::random_device{}()};
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

int run(const Options& o) {
  const Api api = o.api == "v2" ? Api::v2 : Api::v1beta1;
  const Op op = o.op == "encrypt" ? Op::encrypt : o.op == "decrypt" ? Op::decrypt : Op::status;
  if (o.distinct > 0 && op != Op::decrypt) {
    std::cerr << "--distinct applies to --op decrypt only\n";
    return 2;
  }

  std::optional<ProcessSample> server_start;
  std::string error;
  if (o.server_pid > 0) {
    // Fail before the run, not after it, when the pid is wrong.
    if (!sample_process(o.server_pid, error)) {
      std::cerr << error << "\n";
      return 1;
    }
  }
  const auto channels = connect(o, error);
  if (channels.empty()) {
    std::cerr << error << "\n";
    return 1;
  }

  PhaseOptions phase;
  phase.concurrency = o.concurrency;
  phase.threads = o.threads;
  phase.deadline = std::chrono::milliseconds(o.deadline_ms);
  phase.think = std::chrono::microseconds(static_cast<std::int64_t>(o.think_ms * 1000));
  phase.uid_prefix = "lg-" + std::to_string(::getpid()) + "-";

  CallPlan plan;
  plan.api = api;
  plan.op = op;
  plan.plaintext = random_bytes(o.plaintext_size);

  std::vector<Sealed> sealed;
  if (op == Op::decrypt) {
    sealed.resize(o.distinct + 1);
    CallPlan seal = plan;
    seal.op = Op::encrypt;
    seal.keep = &sealed;
    phase.count = sealed.size();
    const PhaseResult r = run_phase(phase, seal, channels);
    phase.first_seq += r.calls;
    if (r.ok != r.calls) {
      std::cerr << "cannot prepare the ciphertexts: " << r.calls - r.ok << " of " << r.calls
                << " encrypts failed, for example " << r.first_error << "\n";
      return 1;
    }
    plan.decrypt_from = std::span<const Sealed>(sealed).first(1);
  }

  if (o.warmup > 0) {
    phase.count = o.warmup;
    phase.first_seq += run_phase(phase, plan, channels).calls;
  }

  if (op == Op::decrypt && o.distinct > 0) {
    plan.decrypt_from = std::span<const Sealed>(sealed).subspan(1);
  }
  phase.count = o.count;
  phase.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(o.duration_s));
  phase.keep_records = !o.uid_log.empty();
  if (o.server_pid > 0) server_start = sample_process(o.server_pid, error);
  const PhaseResult measured = run_phase(phase, plan, channels);
  std::optional<ProcessSample> server_end;
  if (o.server_pid > 0) server_end = sample_process(o.server_pid, error);

  RunSettings settings;
  settings.api = o.api;
  settings.op = op == Op::status ? (api == Api::v2 ? "status" : "version") : o.op;
  settings.concurrency = o.concurrency;
  settings.channels = o.channels;
  settings.threads = std::min(o.threads, o.concurrency);
  settings.plaintext_size = o.plaintext_size;
  settings.warmup = o.warmup;
  settings.distinct = o.distinct;
  settings.deadline_ms = o.deadline_ms;
  settings.think_ms = o.think_ms;
  boost::json::object report = run_report(settings, measured, op == Op::encrypt);
  int status = 0;
  if (o.server_pid > 0) {
    if (server_start && server_end) {
      report["server"] = server_report(*server_start, *server_end, measured.calls);
    } else {
      report["server"] = boost::json::object{{"error", error}};
      status = 1;
    }
  }

  if (!o.uid_log.empty()) {
    std::ofstream log(o.uid_log, std::ios::trunc);
    write_call_log(log, phase, measured);
    if (!log.flush()) {
      std::cerr << "cannot write " << o.uid_log << "\n";
      status = 1;
    }
  }
  const std::string json = boost::json::serialize(report) + "\n";
  if (o.out.empty()) {
    std::cout << json << std::flush;
  } else {
    std::ofstream out(o.out, std::ios::trunc);
    if (!(out << json).flush()) {
      std::cerr << "cannot write " << o.out << "\n";
      status = 1;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load generator for a KMS plugin's gRPC API (v2 or v1beta1) on a unix socket"};
  Options o;
  app.add_option("--socket", o.socket, "The plugin's unix socket")->required();
  app.add_option("--api", o.api, "v2 or v1beta1")
      ->check(CLI::IsMember({"v2", "v1beta1"}))
      ->capture_default_str();
  app.add_option("--op", o.op, "encrypt, decrypt, or status (v1beta1: version)")
      ->check(CLI::IsMember({"encrypt", "decrypt", "status", "version"}))
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency, "Calls outstanding at all times")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* count = app.add_option("--count", o.count, "Measured calls (default 10000)")
                    ->check(CLI::PositiveNumber);
  auto* duration = app.add_option("--duration", o.duration_s,
                                  "Start measured calls for this many seconds instead")
                       ->check(CLI::PositiveNumber)
                       ->excludes(count);
  app.add_option("--warmup", o.warmup, "Calls before the measured ones, not measured")
      ->capture_default_str();
  app.add_option("--plaintext-size", o.plaintext_size, "Bytes of each plaintext to encrypt")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--channels", o.channels, "gRPC channels (connections); calls spread over them")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Threads polling completions (at most --concurrency)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--distinct", o.distinct,
                 "Decrypt: encrypt N distinct plaintexts first, then decrypt them in turn");
  app.add_option("--server-pid", o.server_pid,
                 "Report this process's CPU, RSS and fds over the measured calls")
      ->check(CLI::PositiveNumber);
  app.add_option("--uid-log", o.uid_log, "Write 'uid latency_ns status_code' per measured call");
  app.add_option("--out", o.out, "Write the JSON report here instead of stdout");
  app.add_option("--deadline-ms", o.deadline_ms, "Per-call deadline, as kube-apiserver's timeout")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--connect-timeout-ms", o.connect_timeout_ms,
                 "How long to wait for the socket to accept each channel")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--think-ms", o.think_ms,
                 "Idle time between an answer and the slot's next call (the floor after idle)")
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (count->count() == 0 && duration->count() == 0) o.count = 10000;
  return run(o);
}
