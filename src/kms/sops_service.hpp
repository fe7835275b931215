// SOPS's key service (service KeyService, proto/keyservice.proto): SOPS
// hands it a data key to encrypt or decrypt, and Trousseau protects it
// with the quorum. Served on a socket of its own, off by default
// (docs/integrations/sops.md).
//
// 1. Only the `kms_key` variant is accepted, and only when its `arn` is
//    kSopsPolicyArn, the one policy a daemon has. `role`, `aws_profile` and
//    `context` must be empty: they would promise a binding Trousseau does
//    not make. Every other key type is INVALID_ARGUMENT, named.
// 2. Encrypt seals kSopsLabel + the data key in an envelope with every
//    share inline (no annotations: SOPS keeps one string), and answers its
//    standard base64, since SOPS stores the ciphertext as a string.
// 3. Decrypt reads that base64, opens the envelope under the policy in
//    force, and answers only a plaintext that starts with kSopsLabel. So
//    this socket opens what it sealed and nothing else: not the envelopes
//    kube-apiserver keeps in etcd, whoever may reach this socket.
#pragma once

#include <string_view>

#include "keyservice.grpc.pb.h"
#include "kms/request.hpp"

namespace trousseau::kms {

inline constexpr std::string_view kSopsPolicyArn = "trousseau:policy/default";
inline constexpr std::string_view kSopsLabel = "trousseau.io/sops-data-key/v1\n";

class SopsKeyService final : public ::KeyService::CallbackService {
 public:
  explicit SopsKeyService(ServiceContext context) : context_(context) {}

  grpc::ServerUnaryReactor* Encrypt(grpc::CallbackServerContext* ctx, const ::EncryptRequest* req,
                                    ::EncryptResponse* resp) override;
  grpc::ServerUnaryReactor* Decrypt(grpc::CallbackServerContext* ctx, const ::DecryptRequest* req,
                                    ::DecryptResponse* resp) override;

 private:
  ServiceContext context_;
};

}  // namespace trousseau::kms
