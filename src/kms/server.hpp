// The gRPC server: KMS v2 and v1beta1 on one unix socket, or SOPS's key
// service on another, answering from the engine in force (EngineSource).
// The daemon (daemon/) builds them.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "kms/request.hpp"
#include "kms/sops_service.hpp"
#include "kms/v1beta1_service.hpp"
#include "kms/v2_service.hpp"

namespace trousseau::kms {

struct SocketOptions {
  std::string path;
  std::optional<std::string> group;  ///< 0660 and this group; else 0600
};

/// What a socket serves: kube-apiserver's APIs, or SOPS's.
enum class Surface { kubernetes, sops };

class Server {
 public:
  Server(SocketOptions socket, ServiceContext context, Surface surface = Surface::kubernetes);
  ~Server();

  /// Binds the socket: removes a stale socket file, refuses when a live
  /// process answers on it, mode 0600 (0660 with a group), never reachable
  /// with looser permissions.
  Error start();
  /// Stops accepting, lets in-flight calls finish until `grace` is up, then
  /// closes. Safe to call twice.
  void shutdown(std::chrono::milliseconds grace);
  /// Serving: started and not shut down.
  bool serving() const { return grpc_ != nullptr && !stopped_; }

  const std::string& socket_path() const { return socket_.path; }

 private:
  Error prepare_socket() const;
  Error secure_socket(const std::string& staged) const;

  SocketOptions socket_;
  Inflight& inflight_;
  V2Service v2_;
  V1beta1Service v1beta1_;
  SopsKeyService sops_;
  Surface surface_;
  std::unique_ptr<grpc::Server> grpc_;
  bool stopped_ = false;
};

}  // namespace trousseau::kms
