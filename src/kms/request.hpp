// Glue between gRPC callback reactors and the quorum engine.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <memory>

#include <array>
#include <string>

#include "common/error.hpp"
#include "common/secret.hpp"
#include "config/config.hpp"
#include "quorum/engine.hpp"

namespace trousseau::kms {

namespace asio = boost::asio;

/// Counts calls that wait for the engine, so that shutdown can wait for
/// exactly those (gRPC's own Shutdown deadline also waits for idle client
/// connections, which kube-apiserver never closes).
class Inflight {
 public:
  /// False once draining: new calls are refused with UNAVAILABLE.
  bool enter() {
    ++count_;
    if (draining_) {
      --count_;
      return false;
    }
    return true;
  }
  void leave() { --count_; }
  void drain() { draining_ = true; }
  int count() const { return count_; }

 private:
  std::atomic<int> count_{0};
  std::atomic<bool> draining_{false};
};

/// One unary call that waits for the engine. Finishes exactly once (the
/// engine's handler calls Finish), turns gRPC cancellation into a
/// cancellation of the engine operation on its strand, and deletes itself
/// when gRPC is done with it.
class EngineReactor final : public grpc::ServerUnaryReactor {
 public:
  /// `inflight` must have been entered for this call; OnDone leaves it.
  EngineReactor(quorum::Strand strand, Inflight& inflight)
      : strand_(std::move(strand)),
        signal_(std::make_shared<asio::cancellation_signal>()),
        inflight_(inflight) {}

  const quorum::Strand& strand() const { return strand_; }
  asio::cancellation_slot slot() { return signal_->slot(); }

  /// Wipes `field` (a plaintext in the request or the response, both owned
  /// by gRPC until OnDone) once gRPC has sent the answer. Up to two.
  void wipe_on_done(std::string* field) {
    for (std::string*& w : wipe_) {
      if (w == nullptr) {
        w = field;
        return;
      }
    }
  }

  void OnCancel() override {
    // gRPC's thread: emit on the strand, where the operation lives. The
    // signal is shared so that it outlives this reactor if need be.
    asio::post(strand_, [s = signal_] { s->emit(asio::cancellation_type::terminal); });
  }
  void OnDone() override {
    for (std::string* w : wipe_) {
      // The messages are gRPC's (it frees them): zero their bytes, no more.
      if (w != nullptr) secure_wipe(*w, AfterWipe::keep_size);
    }
    inflight_.leave();
    delete this;
  }

 private:
  std::array<std::string*, 2> wipe_{};
  quorum::Strand strand_;
  std::shared_ptr<asio::cancellation_signal> signal_;
  Inflight& inflight_;
};

grpc::Status to_grpc(const Error& e);

/// The engine deadline for a call: the caller's deadline (or the default
/// when it set none) less the safety margin. nullopt when nothing is left.
std::optional<quorum::Clock::time_point> request_deadline(const grpc::CallbackServerContext& ctx,
                                                          const config::RequestConfig& cfg);

/// kube-apiserver's uid as the engine's request id: a UUID in practice,
/// but untrusted, so longer ones are cut to kMaxRequestId bytes.
inline constexpr std::size_t kMaxRequestId = 64;
inline std::string request_id(std::string_view uid) {
  return std::string(uid.substr(0, kMaxRequestId));
}

inline const grpc::Status kDraining{grpc::StatusCode::UNAVAILABLE, "shutting down"};

/// Finishes `ctx` at once with `status`.
inline grpc::ServerUnaryReactor* finish_now(grpc::CallbackServerContext* ctx,
                                            const grpc::Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace trousseau::kms
