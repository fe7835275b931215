// A kube-apiserver stand-in: the KMS v2 and v1beta1 clients over a unix
// socket, dialled the way apiserver dials (insecure, authority localhost,
// wait-for-ready, per-call deadline).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "kms_v1beta1.grpc.pb.h"
#include "kms_v2.grpc.pb.h"

namespace trousseau::testkit {

class KmsClient {
 public:
  explicit KmsClient(const std::string& socket_path,
                     std::chrono::milliseconds timeout = std::chrono::seconds(3));

  grpc::Status status(v2::StatusResponse& out);
  grpc::Status encrypt(const std::string& plaintext, v2::EncryptResponse& out,
                       const std::string& uid = "uid-1");
  grpc::Status decrypt(const std::string& ciphertext, const std::string& key_id,
                       const google::protobuf::Map<std::string, std::string>& annotations,
                       v2::DecryptResponse& out);

  grpc::Status v1_version(v1beta1::VersionResponse& out);
  grpc::Status v1_encrypt(const std::string& plain, v1beta1::EncryptResponse& out);
  grpc::Status v1_decrypt(const std::string& cipher, v1beta1::DecryptResponse& out);

 private:
  void prepare(grpc::ClientContext& ctx) const;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v2::KeyManagementService::Stub> v2_;
  std::unique_ptr<v1beta1::KeyManagementService::Stub> v1_;
};

}  // namespace trousseau::testkit
