// The plugin process, and the one owner of its life cycle: it builds the
// providers, the engine and its health probes, the gRPC socket server
// (kms/) and the telemetry listener (telemetry/), and swaps them on reload.
//
// Reload (SIGHUP, or a change of the configuration file):
//  1. Read and validate the file. Any error: the running configuration stays
//     in force; the error is logged and counted.
//  2. Build the new set: a provider whose entry is unchanged (same
//     fingerprint, same health settings) is the same object, with its
//     connections, sessions, breaker and latency history; others are built
//     now. A provider that cannot be built fails the reload as in 1.
//  3. A new engine over them, new probes; the engine in force is swapped in
//     one atomic step. Requests in flight finish on the engine they started
//     with (each holds it); its probes stop.
//  The socket, its group, the state directory and the telemetry address
//  are bound at start: a reload that changes them is refused.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/file_watch.hpp"
#include "config/config.hpp"
#include "kms/request.hpp"
#include "kms/server.hpp"
#include "quorum/engine.hpp"
#include "quorum/health_monitor.hpp"
#include "telemetry/http_server.hpp"
#include "telemetry/metrics.hpp"

namespace trousseau::daemon {

struct Options {
  bool create_missing_keys = false;  ///< let keyfile providers create their key
  unsigned threads = 0;              ///< io_context threads; 0: one per core, at least 2
  std::chrono::milliseconds first_probe_wait{2000};
  /// The file reload() reads; watched for changes when `watch_config`.
  std::string config_path{};
  bool watch_config = true;
  std::chrono::milliseconds watch_interval{1000};  ///< how often the watch is looked at
};

class Daemon {
 public:
  /// Builds every provider; errors (bad key file, unreachable module...)
  /// name the provider.
  static Result<std::unique_ptr<Daemon>> create(const config::Config& cfg, Options options);
  ~Daemon();

  /// Starts the threads and probes, waits for the first probe round (up to
  /// first_probe_wait), then binds the socket and the telemetry listener.
  Error start();
  /// Re-reads options.config_path and applies it (see above), now, on the
  /// calling thread.
  Error reload();
  /// Asks for a reload on the daemon's control thread (SIGHUP); returns at
  /// once. The same thread reloads when the watched file changes.
  void request_reload();
  /// Applies `cfg` as a reload would.
  Error apply(const config::Config& cfg);
  /// Stops accepting, lets in-flight calls finish until `grace` is up, then
  /// stops the probes, the listener and the threads. Safe to call twice.
  void shutdown(std::chrono::milliseconds grace);

  /// The engine in force.
  std::shared_ptr<quorum::Engine> engine() const { return engines_.get(); }
  telemetry::Metrics& metrics() { return metrics_; }
  const std::string& socket_path() const { return socket_path_; }
  /// Where the telemetry listener is bound (after start); nullopt when off.
  std::optional<boost::asio::ip::tcp::endpoint> telemetry_endpoint() const;
  /// Configuration loads so far, the start included, and failures.
  std::uint64_t reloads() const;
  std::uint64_t reload_failures() const;

 private:
  struct Generation {
    config::Config cfg;
    std::shared_ptr<quorum::Engine> engine;
    std::unique_ptr<quorum::HealthMonitor> health;
  };

  Daemon(const config::Config& cfg, Options options);
  Result<std::unique_ptr<Generation>> build(const config::Config& cfg);
  telemetry::HttpAnswer answer(const std::string& path, const std::string& query);
  void control_loop();
  void note_load(bool ok);

  Options options_;
  std::string socket_path_;
  std::optional<std::string> socket_group_;
  std::string state_dir_;
  std::optional<std::string> telemetry_listen_;

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  boost::asio::thread_pool state_writer_{1};  ///< rotation state writes, in order, for every engine

  telemetry::Metrics metrics_;
  kms::EngineSource engines_;
  kms::Inflight inflight_;
  std::unique_ptr<kms::Server> server_;
  std::unique_ptr<kms::Server> sops_server_;  ///< SOPS's key service; null when off
  std::unique_ptr<telemetry::HttpServer> http_;

  mutable std::mutex reload_mutex_;  ///< one reload at a time; guards what follows
  std::unique_ptr<Generation> current_;
  /// Engines a reload replaced, until nothing else holds them.
  std::vector<std::shared_ptr<quorum::Engine>> retired_;
  std::map<std::string, std::shared_ptr<quorum::ManagedProvider>> providers_;  ///< by name
  std::map<std::string, std::string> fingerprints_;                           ///< by name
  std::unique_ptr<FileWatch> config_watch_;
  std::uint64_t loaded_watch_generation_ = 0;
  std::thread control_;  ///< reloads: never on an io thread, which they could block
  std::mutex control_mutex_;
  std::condition_variable control_cv_;
  bool reload_requested_ = false;  ///< under control_mutex_
  bool control_stop_ = false;      ///< under control_mutex_
  std::uint64_t loads_ = 0;
  std::uint64_t load_failures_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace trousseau::daemon
