#include "kms/v1beta1_service.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>

#include "common/log.hpp"
#include "common/text.hpp"
#include "kms/request.hpp"

namespace trousseau::kms {

namespace {
constexpr const char* kVersion = "v1beta1";

bool version_ok(const std::string& v) { return v.empty() || v == kVersion; }
}  // namespace

grpc::ServerUnaryReactor* V1beta1Service::Version(grpc::CallbackServerContext* ctx,
                                                  const v1beta1::VersionRequest*,
                                                  v1beta1::VersionResponse* resp) {
  resp->set_version(kVersion);
  resp->set_runtime_name("trousseau");
  resp->set_runtime_version(TROUSSEAU_VERSION);
  return finish_now(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* V1beta1Service::Encrypt(grpc::CallbackServerContext* ctx,
                                                  const v1beta1::EncryptRequest* req,
                                                  v1beta1::EncryptResponse* resp) {
  if (!version_ok(req->version())) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                            "unsupported version " + quote(req->version())});
  }
  if (req->plain().empty() || req->plain().size() > envelope::kMaxPlaintext) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                            "plaintext must be 1 byte to 64 KiB, got " +
                                std::to_string(req->plain().size())});
  }
  auto deadline = request_deadline(*ctx, engine_.config().request);
  if (!deadline) return finish_now(ctx, {grpc::StatusCode::DEADLINE_EXCEEDED, "no time left"});
  if (!inflight_.enter()) return finish_now(ctx, kDraining);
  auto* reactor = new EngineReactor(engine_.make_strand(), inflight_);
  // gRPC owns the request until OnDone; its plaintext is ours to wipe then.
  reactor->wipe_on_done(const_cast<std::string*>(&req->plain()));
  engine_.async_encrypt(
      reactor->strand(), as_bytes(req->plain()), envelope::Limits{}, {*deadline, {}},
      asio::bind_cancellation_slot(reactor->slot(), [reactor, resp](Error e,
                                                                    quorum::EncryptOutcome out) {
        if (e.ok()) {
          resp->set_cipher(std::string(as_chars(out.encoded.ciphertext)));
        } else {
          log::warn("request failed", {{"rpc", "v1beta1.Encrypt"},
                                        {"code", to_string(e.code())},
                                        {"error", e.message()}});
        }
        reactor->Finish(to_grpc(e));
      }));
  return reactor;
}

grpc::ServerUnaryReactor* V1beta1Service::Decrypt(grpc::CallbackServerContext* ctx,
                                                  const v1beta1::DecryptRequest* req,
                                                  v1beta1::DecryptResponse* resp) {
  if (!version_ok(req->version())) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                            "unsupported version " + quote(req->version())});
  }
  if (req->cipher().empty()) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "ciphertext is empty"});
  }
  auto deadline = request_deadline(*ctx, engine_.config().request);
  if (!deadline) return finish_now(ctx, {grpc::StatusCode::DEADLINE_EXCEEDED, "no time left"});
  if (!inflight_.enter()) return finish_now(ctx, kDraining);
  auto* reactor = new EngineReactor(engine_.make_strand(), inflight_);
  reactor->wipe_on_done(resp->mutable_plain());
  engine_.async_decrypt(
      reactor->strand(), as_bytes(req->cipher()), envelope::Annotations{}, {*deadline, {}},
      asio::bind_cancellation_slot(reactor->slot(), [reactor, resp](Error e, SecretBytes plain) {
        if (e.ok()) {
          // One copy, straight into the response, wiped once sent.
          resp->set_plain(reinterpret_cast<const char*>(plain.data()), plain.size());
        } else {
          log::warn("request failed", {{"rpc", "v1beta1.Decrypt"},
                                        {"code", to_string(e.code())},
                                        {"error", e.message()}});
        }
        reactor->Finish(to_grpc(e));
      }));
  return reactor;
}

}  // namespace trousseau::kms
