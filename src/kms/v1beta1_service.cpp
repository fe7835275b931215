#include "kms/v1beta1_service.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>

#include "common/caller_executor.hpp"
#include "common/text.hpp"
#include "envelope/legacy.hpp"
#include "kms/request.hpp"

namespace trousseau::kms {

namespace {
constexpr const char* kVersion = "v1beta1";

bool version_ok(const std::string& v) { return v.empty() || v == kVersion; }
}  // namespace

grpc::ServerUnaryReactor* V1beta1Service::Version(grpc::CallbackServerContext*,
                                                  const v1beta1::VersionRequest*,
                                                  v1beta1::VersionResponse* resp) {
  RequestLog log(context_.observer, Api::v1beta1, Method::version, {});
  resp->set_version(kVersion);
  resp->set_runtime_name("trousseau");
  resp->set_runtime_version(TROUSSEAU_VERSION);
  return finish_now(context_.inflight, log, grpc::Status::OK);
}

grpc::ServerUnaryReactor* V1beta1Service::Encrypt(grpc::CallbackServerContext* ctx,
                                                  const v1beta1::EncryptRequest* req,
                                                  v1beta1::EncryptResponse* resp) {
  RequestLog log(context_.observer, Api::v1beta1, Method::encrypt, {});
  if (!version_ok(req->version())) {
    return finish_now(context_.inflight, log, {grpc::StatusCode::INVALID_ARGUMENT,
                                 "unsupported version " + quote(req->version())});
  }
  if (req->plain().empty() || req->plain().size() > envelope::kMaxPlaintext) {
    return finish_now(context_.inflight, log, {grpc::StatusCode::INVALID_ARGUMENT,
                                 "plaintext must be 1 byte to 64 KiB, got " +
                                     std::to_string(req->plain().size())});
  }
  Admitted admitted = admit(context_, ctx, std::move(log));
  if (admitted.answered) return admitted.answered;
  // This thread runs the request until it waits on a KMS: a key file's
  // answer leaves from here, without a trip through the io_context.
  CallerQueue here(admitted.reactor->strand());
  EngineReactor* reactor = admitted.reactor;
  // gRPC owns the request until OnDone; its plaintext is ours to wipe then.
  reactor->wipe_on_done(const_cast<std::string*>(&req->plain()));
  reactor->engine().async_encrypt(
      reactor->strand(), as_bytes(req->plain()), envelope::Limits{},
      {admitted.deadline, {}, reactor->trace()},
      asio::bind_cancellation_slot(reactor->slot(), [reactor, resp](Error e,
                                                                    quorum::EncryptOutcome out) {
        if (e.ok()) resp->set_cipher(std::string(as_chars(out.encoded.ciphertext)));
        reactor->finish(e, out.key_id);
      }));
  return reactor;
}

grpc::ServerUnaryReactor* V1beta1Service::Decrypt(grpc::CallbackServerContext* ctx,
                                                  const v1beta1::DecryptRequest* req,
                                                  v1beta1::DecryptResponse* resp) {
  RequestLog log(context_.observer, Api::v1beta1, Method::decrypt, {});
  if (!version_ok(req->version())) {
    return finish_now(context_.inflight, log, {grpc::StatusCode::INVALID_ARGUMENT,
                                 "unsupported version " + quote(req->version())});
  }
  if (req->cipher().empty()) {
    return finish_now(context_.inflight, log, {grpc::StatusCode::INVALID_ARGUMENT, "ciphertext is empty"});
  }
  Admitted admitted = admit(context_, ctx, std::move(log));
  if (admitted.answered) return admitted.answered;
  // This thread runs the request until it waits on a KMS: a key file's
  // answer leaves from here, without a trip through the io_context.
  CallerQueue here(admitted.reactor->strand());
  EngineReactor* reactor = admitted.reactor;
  reactor->wipe_on_done(resp->mutable_plain());
  auto answer = asio::bind_cancellation_slot(reactor->slot(), [reactor, resp](Error e, SecretBytes plain) {
    // One copy, straight into the response, wiped once sent.
    if (e.ok()) resp->set_plain(reinterpret_cast<const char*>(plain.data()), plain.size());
    reactor->finish(e);
  });
  if (envelope::looks_legacy(as_bytes(req->cipher()))) {
    // The original Trousseau's format (docs/migration.md): opened only by
    // the providers `legacy:` maps.
    reactor->engine().async_legacy_decrypt(reactor->strand(), as_bytes(req->cipher()),
                                           {admitted.deadline, {}, reactor->trace()},
                                           std::move(answer));
    return reactor;
  }
  reactor->engine().async_decrypt(reactor->strand(), as_bytes(req->cipher()),
                                  envelope::Annotations{}, {admitted.deadline, {}, reactor->trace()},
                                  std::move(answer));
  return reactor;
}

}  // namespace trousseau::kms
