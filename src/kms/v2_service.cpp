#include "kms/v2_service.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>

#include "common/caller_executor.hpp"
#include "envelope/legacy.hpp"
#include "kms/kubernetes_limits.hpp"
#include "kms/request.hpp"

namespace trousseau::kms {

grpc::ServerUnaryReactor* V2Service::Status(grpc::CallbackServerContext*,
                                            const v2::StatusRequest*, v2::StatusResponse* resp) {
  RequestLog log(context_.observer, Api::v2, Method::status, {});
  const quorum::Status s = context_.engines.get()->status();
  resp->set_version("v2");
  resp->set_healthz(s.healthy ? "ok" : "unhealthy: " + s.detail);
  resp->set_key_id(s.key_id);
  return finish_now(context_.inflight, log, grpc::Status::OK);
}

grpc::ServerUnaryReactor* V2Service::Encrypt(grpc::CallbackServerContext* ctx,
                                             const v2::EncryptRequest* req,
                                             v2::EncryptResponse* resp) {
  RequestLog log(context_.observer, Api::v2, Method::encrypt, request_id(req->uid()));
  if (req->plaintext().empty()) {
    return finish_now(context_.inflight, log, {grpc::StatusCode::INVALID_ARGUMENT, "plaintext is empty"});
  }
  if (req->plaintext().size() > envelope::kMaxPlaintext) {
    return finish_now(context_.inflight, log,
                      {grpc::StatusCode::INVALID_ARGUMENT,
                       "plaintext of " + std::to_string(req->plaintext().size()) +
                           " bytes exceeds the 64 KiB limit"});
  }
  Admitted admitted = admit(context_, ctx, std::move(log));
  if (admitted.answered) return admitted.answered;
  // This thread runs the request until it waits on a KMS: a key file's
  // answer leaves from here, without a trip through the io_context.
  CallerQueue here(admitted.reactor->strand());
  EngineReactor* reactor = admitted.reactor;
  // gRPC owns the request until OnDone; its plaintext is ours to wipe then.
  reactor->wipe_on_done(const_cast<std::string*>(&req->plaintext()));
  const envelope::Limits limits{envelope::kMaxV2Ciphertext, true, envelope::kMaxV2Annotations};
  reactor->engine().async_encrypt(
      reactor->strand(), as_bytes(req->plaintext()), limits,
      {admitted.deadline, request_id(req->uid()), reactor->trace()},
      asio::bind_cancellation_slot(
          reactor->slot(), [reactor, resp](Error e, quorum::EncryptOutcome out) {
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
            reactor->finish(e, out.key_id);
          }));
  return reactor;
}

grpc::ServerUnaryReactor* V2Service::Decrypt(grpc::CallbackServerContext* ctx,
                                             const v2::DecryptRequest* req,
                                             v2::DecryptResponse* resp) {
  RequestLog log(context_.observer, Api::v2, Method::decrypt, request_id(req->uid()));
  if (req->ciphertext().empty()) {
    return finish_now(context_.inflight, log, {grpc::StatusCode::INVALID_ARGUMENT, "ciphertext is empty"});
  }
  if (envelope::looks_legacy(as_bytes(req->ciphertext()))) {
    // The original Trousseau spoke v1beta1 only: a v2 caller presenting its
    // format is not a migration, and gets no KMS call.
    return finish_now(context_.inflight, log, {grpc::StatusCode::INVALID_ARGUMENT,
                                 "a ciphertext of the original Trousseau is accepted only through "
                                 "KMS v1beta1"});
  }

  envelope::Annotations annotations;
  for (const auto& [k, v] : req->annotations()) annotations.emplace(k, to_bytes(v));
  Admitted admitted = admit(context_, ctx, std::move(log));
  if (admitted.answered) return admitted.answered;
  // This thread runs the request until it waits on a KMS: a key file's
  // answer leaves from here, without a trip through the io_context.
  CallerQueue here(admitted.reactor->strand());
  EngineReactor* reactor = admitted.reactor;
  reactor->wipe_on_done(resp->mutable_plaintext());
  reactor->engine().async_decrypt(
      reactor->strand(), as_bytes(req->ciphertext()), annotations,
      {admitted.deadline, request_id(req->uid()), reactor->trace()},
      asio::bind_cancellation_slot(
          reactor->slot(), [reactor, resp, key_id = req->key_id()](Error e, SecretBytes plain) {
            if (e.ok()) {
              // One copy, straight into the response, wiped once sent.
              resp->set_plaintext(reinterpret_cast<const char*>(plain.data()), plain.size());
            }
            reactor->finish(e, key_id.substr(0, 256));
          }));
  return reactor;
}

}  // namespace trousseau::kms
