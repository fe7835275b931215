#include "kms/v2_service.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>

#include "common/log.hpp"
#include "kms/kubernetes_limits.hpp"
#include "kms/request.hpp"

namespace trousseau::kms {

grpc::ServerUnaryReactor* V2Service::Status(grpc::CallbackServerContext* ctx,
                                            const v2::StatusRequest*, v2::StatusResponse* resp) {
  const quorum::Status s = engine_.status();
  resp->set_version("v2");
  resp->set_healthz(s.healthy ? "ok" : "unhealthy: " + s.detail);
  resp->set_key_id(s.key_id);
  return finish_now(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* V2Service::Encrypt(grpc::CallbackServerContext* ctx,
                                             const v2::EncryptRequest* req,
                                             v2::EncryptResponse* resp) {
  if (req->plaintext().empty()) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "plaintext is empty"});
  }
  if (req->plaintext().size() > envelope::kMaxPlaintext) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT,
                            "plaintext of " + std::to_string(req->plaintext().size()) +
                                " bytes exceeds the 64 KiB limit"});
  }
  auto deadline = request_deadline(*ctx, engine_.config().request);
  if (!deadline) return finish_now(ctx, {grpc::StatusCode::DEADLINE_EXCEEDED, "no time left"});

  if (!inflight_.enter()) return finish_now(ctx, kDraining);
  auto* reactor = new EngineReactor(engine_.make_strand(), inflight_);
  // gRPC owns the request until OnDone; its plaintext is ours to wipe then.
  reactor->wipe_on_done(const_cast<std::string*>(&req->plaintext()));
  const envelope::Limits limits{envelope::kMaxV2Ciphertext, true, envelope::kMaxV2Annotations};
  engine_.async_encrypt(
      reactor->strand(), as_bytes(req->plaintext()), limits, {*deadline, request_id(req->uid())},
      asio::bind_cancellation_slot(
          reactor->slot(), [reactor, resp, uid = req->uid()](Error e, quorum::EncryptOutcome out) {
            if (e.ok()) {
              resp->set_ciphertext(std::string(as_chars(out.encoded.ciphertext)));
              resp->set_key_id(out.key_id);
              for (auto& [k, v] : out.encoded.annotations) {
                (*resp->mutable_annotations())[k] = std::string(as_chars(v));
              }
              std::map<std::string, std::string> ann(resp->annotations().begin(),
                                                     resp->annotations().end());
              // Never hand apiserver a response it would reject.
              e = check_v2_encrypt_response(resp->ciphertext(), resp->key_id(), ann);
              if (!e.ok()) resp->Clear();
            }
            if (!e.ok()) {
              log::warn("request failed", {{"rpc", "v2.Encrypt"},
                                            {"uid", uid},
                                            {"code", to_string(e.code())},
                                            {"error", e.message()}});
            }
            reactor->Finish(to_grpc(e));
          }));
  return reactor;
}

grpc::ServerUnaryReactor* V2Service::Decrypt(grpc::CallbackServerContext* ctx,
                                             const v2::DecryptRequest* req,
                                             v2::DecryptResponse* resp) {
  if (req->ciphertext().empty()) {
    return finish_now(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "ciphertext is empty"});
  }
  auto deadline = request_deadline(*ctx, engine_.config().request);
  if (!deadline) return finish_now(ctx, {grpc::StatusCode::DEADLINE_EXCEEDED, "no time left"});

  envelope::Annotations annotations;
  for (const auto& [k, v] : req->annotations()) annotations.emplace(k, to_bytes(v));
  if (!inflight_.enter()) return finish_now(ctx, kDraining);
  auto* reactor = new EngineReactor(engine_.make_strand(), inflight_);
  reactor->wipe_on_done(resp->mutable_plaintext());
  engine_.async_decrypt(
      reactor->strand(), as_bytes(req->ciphertext()), annotations,
      {*deadline, request_id(req->uid())},
      asio::bind_cancellation_slot(
          reactor->slot(), [reactor, resp, uid = req->uid()](Error e, SecretBytes plain) {
            if (e.ok()) {
              // One copy, straight into the response, wiped once sent.
              resp->set_plaintext(reinterpret_cast<const char*>(plain.data()), plain.size());
            } else {
              log::warn("request failed", {{"rpc", "v2.Decrypt"},
                                            {"uid", uid},
                                            {"code", to_string(e.code())},
                                            {"error", e.message()}});
            }
            reactor->Finish(to_grpc(e));
          }));
  return reactor;
}

}  // namespace trousseau::kms
