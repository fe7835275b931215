#include "call_slot.hpp"

#include <optional>

#include "kms_v1beta1.grpc.pb.h"
#include "kms_v2.grpc.pb.h"

namespace trousseau::bench {

namespace {

constexpr const char* kV1beta1 = "v1beta1";

template <class Stub, class Request, class Response>
class Slot final : public CallSlot {
 public:
  using Prepare = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (Stub::*)(
      grpc::ClientContext*, const Request&, grpc::CompletionQueue*);
  using Fill = void (*)(const CallPlan&, std::uint64_t index, const std::string& uid, Request&);
  /// Keeps what the plan asks for; returns the ciphertext's size (encrypt).
  using Read = std::size_t (*)(const CallPlan&, std::uint64_t index, Response&);

  Slot(const CallPlan& plan, std::unique_ptr<Stub> stub, Prepare prepare, Fill fill, Read read,
       grpc::CompletionQueue* cq)
      : plan_(plan), stub_(std::move(stub)), prepare_(prepare), fill_(fill), read_(read), cq_(cq) {}

  void start(std::uint64_t index, const std::string& uid,
             std::chrono::system_clock::time_point deadline, void* tag) override {
    index_ = index;
    // The reader lives in the previous call's arena, which its context frees.
    reader_.reset();
    context_.emplace();  // a context serves one call
    context_->set_deadline(deadline);
    request_.Clear();
    response_.Clear();
    fill_(plan_, index, uid, request_);
    reader_ = ((*stub_).*prepare_)(&*context_, request_, cq_);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, tag);
  }

  CallResult finish(bool ok) override {
    CallResult r;
    // A unary Finish always completes with ok; anything else is counted,
    // not trusted.
    r.status =
        ok ? status_
           : grpc::Status(grpc::StatusCode::INTERNAL, "the completion queue failed the call");
    if (r.status.ok() && read_ != nullptr) r.ciphertext_bytes = read_(plan_, index_, response_);
    return r;
  }

 private:
  const CallPlan& plan_;
  std::unique_ptr<Stub> stub_;
  Prepare prepare_;
  Fill fill_;
  Read read_;
  grpc::CompletionQueue* cq_;

  std::uint64_t index_ = 0;
  std::optional<grpc::ClientContext> context_;
  Request request_;
  Response response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
};

/// The plan's plaintext with the call's index in its first bytes.
void indexed_plaintext(const CallPlan& plan, std::uint64_t index, std::string& out) {
  out.assign(plan.plaintext);
  for (std::size_t i = 0; i < out.size() && i < sizeof index; ++i) {
    out[i] = static_cast<char>((index >> (8 * i)) & 0xff);
  }
}

const Sealed& sealed_for(const CallPlan& plan, std::uint64_t index) {
  return plan.decrypt_from[index % plan.decrypt_from.size()];
}

std::unique_ptr<CallSlot> make_v2(const CallPlan& plan, const std::shared_ptr<grpc::Channel>& ch,
                                  grpc::CompletionQueue* cq) {
  using Stub = v2::KeyManagementService::Stub;
  switch (plan.op) {
    case Op::encrypt:
      return std::make_unique<Slot<Stub, v2::EncryptRequest, v2::EncryptResponse>>(
          plan, v2::KeyManagementService::NewStub(ch), &Stub::PrepareAsyncEncrypt,
          [](const CallPlan& p, std::uint64_t index, const std::string& uid,
             v2::EncryptRequest& r) {
            indexed_plaintext(p, index, *r.mutable_plaintext());
            r.set_uid(uid);
          },
          [](const CallPlan& p, std::uint64_t index, v2::EncryptResponse& r) {
            // What the apiserver stores: the ciphertext and its annotations.
            std::size_t size = r.ciphertext().size();
            for (const auto& [name, value] : r.annotations()) size += name.size() + value.size();
            if (p.keep != nullptr) {
              Sealed& s = (*p.keep)[index];
              s.ciphertext = std::move(*r.mutable_ciphertext());
              s.key_id = r.key_id();
              for (const auto& [name, value] : r.annotations()) s.annotations.emplace(name, value);
            }
            return size;
          },
          cq);
    case Op::decrypt:
      return std::make_unique<Slot<Stub, v2::DecryptRequest, v2::DecryptResponse>>(
          plan, v2::KeyManagementService::NewStub(ch), &Stub::PrepareAsyncDecrypt,
          [](const CallPlan& p, std::uint64_t index, const std::string& uid,
             v2::DecryptRequest& r) {
            const Sealed& s = sealed_for(p, index);
            r.set_ciphertext(s.ciphertext);
            r.set_uid(uid);
            r.set_key_id(s.key_id);
            auto& annotations = *r.mutable_annotations();
            for (const auto& [name, value] : s.annotations) annotations[name] = value;
          },
          nullptr, cq);
    case Op::status:
      return std::make_unique<Slot<Stub, v2::StatusRequest, v2::StatusResponse>>(
          plan, v2::KeyManagementService::NewStub(ch), &Stub::PrepareAsyncStatus,
          [](const CallPlan&, std::uint64_t, const std::string&, v2::StatusRequest&) {}, nullptr,
          cq);
  }
  return nullptr;
}

// v1beta1 requests carry no uid: the runner still logs one per call.
std::unique_ptr<CallSlot> make_v1beta1(const CallPlan& plan,
                                       const std::shared_ptr<grpc::Channel>& ch,
                                       grpc::CompletionQueue* cq) {
  using Stub = v1beta1::KeyManagementService::Stub;
  switch (plan.op) {
    case Op::encrypt:
      return std::make_unique<Slot<Stub, v1beta1::EncryptRequest, v1beta1::EncryptResponse>>(
          plan, v1beta1::KeyManagementService::NewStub(ch), &Stub::PrepareAsyncEncrypt,
          [](const CallPlan& p, std::uint64_t index, const std::string&,
             v1beta1::EncryptRequest& r) {
            r.set_version(kV1beta1);
            indexed_plaintext(p, index, *r.mutable_plain());
          },
          [](const CallPlan& p, std::uint64_t index, v1beta1::EncryptResponse& r) {
            const std::size_t size = r.cipher().size();
            if (p.keep != nullptr) (*p.keep)[index].ciphertext = std::move(*r.mutable_cipher());
            return size;
          },
          cq);
    case Op::decrypt:
      return std::make_unique<Slot<Stub, v1beta1::DecryptRequest, v1beta1::DecryptResponse>>(
          plan, v1beta1::KeyManagementService::NewStub(ch), &Stub::PrepareAsyncDecrypt,
          [](const CallPlan& p, std::uint64_t index, const std::string&,
             v1beta1::DecryptRequest& r) {
            r.set_version(kV1beta1);
            r.set_cipher(sealed_for(p, index).ciphertext);
          },
          nullptr, cq);
    case Op::status:
      return std::make_unique<Slot<Stub, v1beta1::VersionRequest, v1beta1::VersionResponse>>(
          plan, v1beta1::KeyManagementService::NewStub(ch), &Stub::PrepareAsyncVersion,
          [](const CallPlan&, std::uint64_t, const std::string&, v1beta1::VersionRequest& r) {
            r.set_version(kV1beta1);
          },
          nullptr, cq);
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<CallSlot> make_call_slot(const CallPlan& plan,
                                         const std::shared_ptr<grpc::Channel>& channel,
                                         grpc::CompletionQueue* cq) {
  return plan.api == Api::v2 ? make_v2(plan, channel, cq) : make_v1beta1(plan, channel, cq);
}

}  // namespace trousseau::bench
