// A blocking client of the plugin's socket: KMS v2 and v1beta1, dialled as
// kube-apiserver dials (unix://, insecure, authority "localhost", a
// deadline on every call). `trousseau encrypt | decrypt | status` and the
// tests use it; the server never does.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "kms_v1beta1.grpc.pb.h"
#include "kms_v2.grpc.pb.h"

namespace trousseau::kms {

struct ClientOptions {
  /// Each call's deadline, from the moment it starts.
  std::chrono::milliseconds timeout{3000};
  /// Like apiserver: a call waits (until its deadline) for the socket to
  /// accept. Without it, a call fails at once with UNAVAILABLE when nothing
  /// listens, which an operator at a terminal would rather hear.
  bool wait_for_ready = true;
};

using Annotations = google::protobuf::Map<std::string, std::string>;

/// One channel, both APIs. Calls block the calling thread; they may run
/// from several threads at once. `uid` is the request id the plugin logs
/// and hands to its providers (apiserver sends a UUID).
class Client {
 public:
  explicit Client(const std::string& socket_path, ClientOptions options = {});

  grpc::Status status(v2::StatusResponse& out);
  grpc::Status encrypt(const std::string& plaintext, v2::EncryptResponse& out,
                       const std::string& uid = {});
  grpc::Status decrypt(const std::string& ciphertext, const std::string& key_id,
                       const Annotations& annotations, v2::DecryptResponse& out,
                       const std::string& uid = {});

  grpc::Status v1_version(v1beta1::VersionResponse& out);
  grpc::Status v1_encrypt(const std::string& plain, v1beta1::EncryptResponse& out);
  grpc::Status v1_decrypt(const std::string& cipher, v1beta1::DecryptResponse& out);

 private:
  void prepare(grpc::ClientContext& ctx) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v2::KeyManagementService::Stub> v2_;
  std::unique_ptr<v1beta1::KeyManagementService::Stub> v1_;
};

}  // namespace trousseau::kms
