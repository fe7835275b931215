#include "kms/sops_service.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <algorithm>
#include <memory>

#include "common/bytes.hpp"
#include "common/caller_executor.hpp"
#include "common/text.hpp"
#include "envelope/format.hpp"

namespace trousseau::kms {

namespace {

const char* key_type_name(const ::Key& key) {
  switch (key.key_type_case()) {
    case ::Key::kKmsKey: return "kms_key";
    case ::Key::kPgpKey: return "pgp_key";
    case ::Key::kGcpKmsKey: return "gcp_kms_key";
    case ::Key::kAzureKeyvaultKey: return "azure_keyvault_key";
    case ::Key::kVaultKey: return "vault_key";
    case ::Key::kAgeKey: return "age_key";
    case ::Key::kHckmsKey: return "hckms_key";
    case ::Key::kPluginKey: return "plugin_key";
    case ::Key::KEY_TYPE_NOT_SET: return "a request without a key";
  }
  return "an unknown key type";
}

/// Rule 1: the key must name the daemon's policy, and promise nothing more.
grpc::Status check_key(const ::Key& key) {
  if (key.key_type_case() != ::Key::kKmsKey) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            std::string("trousseau serves kms_key only (arn ") + std::string(kSopsPolicyArn) + "), not " +
                key_type_name(key)};
  }
  const ::KmsKey& k = key.kms_key();
  if (k.arn() != kSopsPolicyArn) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "kms_key arn " + quote(k.arn()) + " names no Trousseau policy; use " +
                std::string(kSopsPolicyArn)};
  }
  if (!k.role().empty() || !k.aws_profile().empty() || !k.context().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "trousseau takes no role, aws_profile or encryption context for " + std::string(kSopsPolicyArn)};
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerUnaryReactor* SopsKeyService::Encrypt(grpc::CallbackServerContext* ctx,
                                                  const ::EncryptRequest* req, ::EncryptResponse* resp) {
  RequestLog log(context_.observer, Api::sops, Method::encrypt, {});
  if (grpc::Status s = check_key(req->key()); !s.ok()) return finish_now(context_.inflight, log, s);
  const std::size_t size = req->plaintext().size();
  if (size == 0 || size + kSopsLabel.size() > envelope::kMaxPlaintext) {
    return finish_now(context_.inflight, log,
                      {grpc::StatusCode::INVALID_ARGUMENT,
                       "a data key of " + std::to_string(size) + " bytes (1 to " +
                           std::to_string(envelope::kMaxPlaintext - kSopsLabel.size()) + ")"});
  }
  // Rule 2: the label goes in front, in secret memory.
  auto plain = std::make_shared<SecretBytes>(kSopsLabel.size() + size);
  std::copy(kSopsLabel.begin(), kSopsLabel.end(), plain->data());
  std::copy(req->plaintext().begin(), req->plaintext().end(), plain->data() + kSopsLabel.size());
  Admitted admitted = admit(context_, ctx, std::move(log));
  if (admitted.answered) return admitted.answered;
  // This thread runs the request until it waits on a KMS: a key file's
  // answer leaves from here, without a trip through the io_context.
  CallerQueue here(admitted.reactor->strand());
  EngineReactor* reactor = admitted.reactor;
  reactor->wipe_on_done(const_cast<std::string*>(&req->plaintext()));
  reactor->engine().async_encrypt(
      reactor->strand(), plain->view(), envelope::Limits{},
      {admitted.deadline, {}, reactor->trace()},
      asio::bind_cancellation_slot(reactor->slot(), [reactor, resp, plain](Error e,
                                                                           quorum::EncryptOutcome out) {
        if (e.ok()) resp->set_ciphertext(base64_encode(out.encoded.ciphertext));
        reactor->finish(e, out.key_id);
      }));
  return reactor;
}

grpc::ServerUnaryReactor* SopsKeyService::Decrypt(grpc::CallbackServerContext* ctx,
                                                  const ::DecryptRequest* req, ::DecryptResponse* resp) {
  RequestLog log(context_.observer, Api::sops, Method::decrypt, {});
  if (grpc::Status s = check_key(req->key()); !s.ok()) return finish_now(context_.inflight, log, s);
  auto ciphertext = std::make_shared<Bytes>();
  if (req->ciphertext().empty() || !base64_decode(req->ciphertext(), *ciphertext)) {
    return finish_now(context_.inflight, log,
                      {grpc::StatusCode::INVALID_ARGUMENT,
                       "the ciphertext is not the standard base64 of a Trousseau envelope"});
  }
  Admitted admitted = admit(context_, ctx, std::move(log));
  if (admitted.answered) return admitted.answered;
  // This thread runs the request until it waits on a KMS: a key file's
  // answer leaves from here, without a trip through the io_context.
  CallerQueue here(admitted.reactor->strand());
  EngineReactor* reactor = admitted.reactor;
  reactor->wipe_on_done(resp->mutable_plaintext());
  reactor->engine().async_decrypt(
      reactor->strand(), *ciphertext, envelope::Annotations{},
      {admitted.deadline, {}, reactor->trace()},
      asio::bind_cancellation_slot(reactor->slot(), [reactor, resp, ciphertext](Error e, SecretBytes plain) {
        // Rule 3: only what this service sealed.
        const ByteView label = as_bytes(kSopsLabel);
        if (e.ok() && (plain.size() <= label.size() ||
                       !std::equal(label.begin(), label.end(), plain.data()))) {
          e = invalid_argument(
              "the envelope opened, but was not sealed by the SOPS key service");
        }
        if (e.ok()) {
          resp->set_plaintext(reinterpret_cast<const char*>(plain.data()) + label.size(),
                              plain.size() - label.size());
        }
        reactor->finish(e);
      }));
  return reactor;
}

}  // namespace trousseau::kms
