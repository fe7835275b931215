// trousseau-provider-bench: one provider of a Trousseau config, called
// directly, with a fixed number of calls outstanding; prints one JSON
// object shaped like trousseau-loadgen's. Run beside the load generator on
// the same config, it separates the plugin's added latency from the KMS's.
//
// The provider is built as `serve` builds it: the config through the real
// loader, then its type's factory from the Registry, on an io_context that
// two threads run. Only `serve` creates missing key material; here a
// missing key file is an error.
//
// Phases, each run to completion before the next starts:
//  1. Unwrap only: one wrap of a random 32-byte share, not measured; every
//     unwrap afterwards opens it and must return the share.
//  2. --warmup calls of the operation, not measured.
//  3. --count measured calls.
#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "config/config.hpp"
#include "direct_report.hpp"
#include "direct_runner.hpp"
#include "envelope/format.hpp"
#include "providers/registry.hpp"

namespace {

namespace asio = boost::asio;
using namespace trousseau;
using namespace trousseau::bench::direct;

constexpr std::size_t kIoThreads = 2;
constexpr std::size_t kShareSize = 32;

struct Options {
  std::string config;
  std::string provider;
  std::string op = "wrap";
  std::size_t concurrency = 1;
  std::uint64_t count = 10000;
  std::uint64_t warmup = 100;
  std::int64_t timeout_ms = 3000;
  std::string out;
};

/// The threads that run `io`; stopped and joined on destruction, before
/// the provider (declared earlier) is destroyed.
class IoThreads {
 public:
  IoThreads(asio::io_context& io, std::size_t n) : io_(io), work_(io.get_executor()) {
    for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() {
    work_.reset();
    io_.stop();  // every measured call has completed; drop the provider's idle work
    for (std::thread& t : threads_) t.join();
  }
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

const config::ProviderConfig* find_provider(const config::Config& cfg, const std::string& name) {
  for (const config::ProviderConfig& pc : cfg.providers) {
    if (pc.name == name) return &pc;
  }
  return nullptr;
}

std::string provider_names(const config::Config& cfg) {
  std::string names;
  for (const config::ProviderConfig& pc : cfg.providers) {
    names += (names.empty() ? "" : ", ") + pc.name;
  }
  return names;
}

/// As kms::Server::create builds each provider, except that a missing key
/// file is an error here, not created.
Result<std::unique_ptr<providers::Provider>> create_provider(const config::ProviderConfig& pc,
                                                             asio::io_context& io) {
  return config::create_provider(pc, {io.get_executor(), /*create_missing_keys=*/false});
}

bool write_report(const boost::json::object& report, const std::string& path) {
  const std::string json = boost::json::serialize(report) + "\n";
  if (path.empty()) return static_cast<bool>(std::cout << json << std::flush);
  std::ofstream out(path, std::ios::trunc);
  return static_cast<bool>((out << json).flush());
}

int run(const Options& o) {
  config::Diagnostics diag;
  const std::optional<config::Config> cfg = config::load_file(o.config, diag);
  for (const std::string& e : diag.errors()) std::cerr << o.config << ": " << e << "\n";
  if (!cfg) return 2;
  log::set_level(cfg->log_level);
  const config::ProviderConfig* pc = find_provider(*cfg, o.provider);
  if (pc == nullptr) {
    std::cerr << o.config << " defines no provider '" << o.provider
              << "' (it defines: " << provider_names(*cfg) << ")\n";
    return 2;
  }

  asio::io_context io;
  auto created = create_provider(*pc, io);
  if (!created.ok()) {
    std::cerr << "cannot create the provider: " << created.error().message() << "\n";
    return 1;
  }
  const std::unique_ptr<providers::Provider> provider = std::move(created.value());
  IoThreads threads(io, kIoThreads);

  // The layout of a real share's context, under a fixed nonce.
  const Bytes context = envelope::share_context({}, 1, 1);
  CallPlan plan;
  plan.op = o.op == "wrap" ? Op::wrap : Op::unwrap;
  plan.context = context;
  plan.timeout = std::chrono::milliseconds(o.timeout_ms);

  const SecretBytes share = SecretBytes::random(kShareSize);
  providers::WrapResult sealed;
  if (plan.op == Op::unwrap) {
    auto wrapped = wrap_once(*provider, io.get_executor(), context, share, plan.timeout);
    if (!wrapped.ok()) {
      std::cerr << "cannot wrap the share to unwrap: " << to_string(wrapped.error().code())
                << ": " << wrapped.error().message() << "\n";
      return 1;
    }
    sealed = std::move(wrapped.value());
    plan.key_version = sealed.key_version;
    plan.wrapped = sealed.wrapped;
    plan.share = &share;
  }

  plan.request_prefix = "direct-warmup-";
  (void)run_phase(*provider, io.get_executor(), plan, o.concurrency, o.warmup);
  plan.request_prefix = "direct-";
  const PhaseResult measured = run_phase(*provider, io.get_executor(), plan, o.concurrency, o.count);

  RunSettings settings;
  settings.provider = pc->name;
  settings.type = pc->type;
  settings.op = o.op;
  settings.concurrency = o.concurrency;
  settings.io_threads = kIoThreads;
  settings.warmup = o.warmup;
  settings.timeout_ms = o.timeout_ms;
  if (!write_report(run_report(settings, measured), o.out)) {
    std::cerr << "cannot write " << (o.out.empty() ? "stdout" : o.out) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Calls one provider of a Trousseau config directly and reports its latency"};
  Options o;
  app.add_option("--config", o.config, "A Trousseau configuration file")->required();
  app.add_option("--provider", o.provider, "The name of one of its providers")->required();
  app.add_option("--op", o.op, "wrap or unwrap")
      ->check(CLI::IsMember({"wrap", "unwrap"}))
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency, "Calls outstanding at all times")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--count", o.count, "Measured calls")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "Calls before the measured ones, not measured")
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "Each call's deadline")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--out", o.out, "Write the JSON report here instead of stdout");
  CLI11_PARSE(app, argc, argv);
  return run(o);
}
