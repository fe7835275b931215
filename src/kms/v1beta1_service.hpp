// KMS API v1beta1: Version, Encrypt, Decrypt. The whole envelope travels in
// the ciphertext (v1beta1 has no annotations and no size limit).
#pragma once

#include "kms_v1beta1.grpc.pb.h"
#include "kms/request.hpp"
#include "quorum/engine.hpp"

namespace trousseau::kms {

class V1beta1Service final : public v1beta1::KeyManagementService::CallbackService {
 public:
  explicit V1beta1Service(ServiceContext context) : context_(context) {}

  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* ctx,
                                    const v1beta1::VersionRequest* req,
                                    v1beta1::VersionResponse* resp) override;
  grpc::ServerUnaryReactor* Encrypt(grpc::CallbackServerContext* ctx,
                                    const v1beta1::EncryptRequest* req,
                                    v1beta1::EncryptResponse* resp) override;
  grpc::ServerUnaryReactor* Decrypt(grpc::CallbackServerContext* ctx,
                                    const v1beta1::DecryptRequest* req,
                                    v1beta1::DecryptResponse* resp) override;

 private:
  ServiceContext context_;
};

}  // namespace trousseau::kms
