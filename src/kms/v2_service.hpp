// KMS API v2: Status, Encrypt, Decrypt.
#pragma once

#include "kms_v2.grpc.pb.h"
#include "kms/request.hpp"
#include "quorum/engine.hpp"

namespace trousseau::kms {

class V2Service final : public v2::KeyManagementService::CallbackService {
 public:
  explicit V2Service(ServiceContext context) : context_(context) {}

  /// Answers from cached health: never calls a provider.
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const v2::StatusRequest* req,
                                   v2::StatusResponse* resp) override;
  grpc::ServerUnaryReactor* Encrypt(grpc::CallbackServerContext* ctx,
                                    const v2::EncryptRequest* req,
                                    v2::EncryptResponse* resp) override;
  grpc::ServerUnaryReactor* Decrypt(grpc::CallbackServerContext* ctx,
                                    const v2::DecryptRequest* req,
                                    v2::DecryptResponse* resp) override;

 private:
  ServiceContext context_;
};

}  // namespace trousseau::kms
