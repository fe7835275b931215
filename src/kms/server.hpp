// The plugin process: providers, engine, health probes and one gRPC server
// serving KMS v2 and v1beta1 on one unix socket.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "config/config.hpp"
#include "kms/v1beta1_service.hpp"
#include "kms/v2_service.hpp"
#include "quorum/engine.hpp"
#include "quorum/health_monitor.hpp"

namespace trousseau::kms {

struct ServerOptions {
  bool create_missing_keys = false;  ///< let keyfile providers create their key
  unsigned threads = 0;              ///< io_context threads; 0: one per core, at least 2
  std::chrono::milliseconds first_probe_wait{2000};
};

class Server {
 public:
  /// Builds every provider; start-up errors (bad key file, unreachable
  /// module...) come back as values naming the provider.
  static Result<std::unique_ptr<Server>> create(const config::Config& cfg,
                                                const ServerOptions& options);
  ~Server();

  /// Probes providers once, then binds the socket: removes a stale socket
  /// file, refuses when a live process answers on it, mode 0600 (0660 with
  /// socket_group).
  Error start();
  /// Stops accepting, lets in-flight calls finish until `grace` is up, then
  /// stops the probes and the io_context. Safe to call twice.
  void shutdown(std::chrono::milliseconds grace);

  quorum::Engine& engine() { return *engine_; }
  const std::string& socket_path() const { return cfg_.socket; }

 private:
  Server(const config::Config& cfg, const ServerOptions& options);
  Error prepare_socket() const;
  Error secure_socket(const std::string& staged) const;

  config::Config cfg_;
  ServerOptions options_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<quorum::Engine> engine_;
  std::unique_ptr<quorum::HealthMonitor> health_;
  Inflight inflight_;
  std::unique_ptr<V2Service> v2_;
  std::unique_ptr<V1beta1Service> v1beta1_;
  std::unique_ptr<grpc::Server> grpc_;
  bool stopped_ = false;
};

}  // namespace trousseau::kms
