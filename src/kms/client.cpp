#include "kms/client.hpp"

namespace trousseau::kms {

Client::Client(const std::string& socket_path, ClientOptions options) : options_(options) {
  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "localhost");
  channel_ =
      grpc::CreateCustomChannel("unix://" + socket_path, grpc::InsecureChannelCredentials(), args);
  v2_ = v2::KeyManagementService::NewStub(channel_);
  v1_ = v1beta1::KeyManagementService::NewStub(channel_);
}

void Client::prepare(grpc::ClientContext& ctx) const {
  ctx.set_wait_for_ready(options_.wait_for_ready);
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
}

grpc::Status Client::status(v2::StatusResponse& out) {
  grpc::ClientContext ctx;
  prepare(ctx);
  return v2_->Status(&ctx, v2::StatusRequest(), &out);
}

grpc::Status Client::encrypt(const std::string& plaintext, v2::EncryptResponse& out,
                             const std::string& uid) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v2::EncryptRequest req;
  req.set_plaintext(plaintext);
  req.set_uid(uid);
  return v2_->Encrypt(&ctx, req, &out);
}

grpc::Status Client::decrypt(const std::string& ciphertext, const std::string& key_id,
                             const Annotations& annotations, v2::DecryptResponse& out,
                             const std::string& uid) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v2::DecryptRequest req;
  req.set_ciphertext(ciphertext);
  req.set_uid(uid);
  req.set_key_id(key_id);
  *req.mutable_annotations() = annotations;
  return v2_->Decrypt(&ctx, req, &out);
}

grpc::Status Client::v1_version(v1beta1::VersionResponse& out) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1beta1::VersionRequest req;
  req.set_version("v1beta1");
  return v1_->Version(&ctx, req, &out);
}

grpc::Status Client::v1_encrypt(const std::string& plain, v1beta1::EncryptResponse& out) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1beta1::EncryptRequest req;
  req.set_version("v1beta1");
  req.set_plain(plain);
  return v1_->Encrypt(&ctx, req, &out);
}

grpc::Status Client::v1_decrypt(const std::string& cipher, v1beta1::DecryptResponse& out) {
  grpc::ClientContext ctx;
  prepare(ctx);
  v1beta1::DecryptRequest req;
  req.set_version("v1beta1");
  req.set_cipher(cipher);
  return v1_->Decrypt(&ctx, req, &out);
}

}  // namespace trousseau::kms
