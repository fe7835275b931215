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
  /// Counts a call that is answered at once, draining or not, so that a
  /// shutdown waits until its answer is sent too.
  void enter_to_answer() { ++count_; }
  void leave() { --count_; }
  void drain() { draining_ = true; }
  int count() const { return count_; }

 private:
  std::atomic<int> count_{0};
  std::atomic<bool> draining_{false};
};

grpc::Status to_grpc(const Error& e);

/// sops: SOPS's key service (sops_service.hpp), on its own socket.
enum class Api : unsigned char { v2, v1beta1, sops };
enum class Method : unsigned char { status, version, encrypt, decrypt };
inline constexpr std::size_t kApis = 3;
inline constexpr std::size_t kMethods = 4;
const char* to_string(Api api);
const char* to_string(Method method);  ///< the RPC's name: "Encrypt"
inline constexpr std::size_t kGrpcCodes = 17;  ///< OK (0) to UNAUTHENTICATED (16)

/// Told of every answered request (metrics). Cheap, no shared lock.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void answered(Api, Method, grpc::StatusCode, quorum::Clock::duration /*latency*/) {}
  static RequestObserver& none();
};

/// The engine in force. A reload swaps it; each request keeps the engine it
/// started with until it is answered, and the engine's operations keep it
/// until their last provider call has drained.
class EngineSource {
 public:
  std::shared_ptr<quorum::Engine> get() const { return engine_.load(std::memory_order_acquire); }
  void set(std::shared_ptr<quorum::Engine> engine) {
    engine_.store(std::move(engine), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<quorum::Engine>> engine_;
};

/// What the services share.
struct ServiceContext {
  EngineSource& engines;
  Inflight& inflight;
  RequestObserver& observer;
};

/// One request's record: its log line at info level (method, apiserver uid,
/// outcome, latency and the providers that served it; for Decrypt, the
/// audit line naming the providers whose shares opened it) and its count.
class RequestLog {
 public:
  RequestLog(RequestObserver& observer, Api api, Method method, std::string uid)
      : observer_(observer), api_(api), method_(method), uid_(std::move(uid)),
        started_(quorum::Clock::now()) {}

  /// Once per request.
  void answered(const grpc::Status& status, const quorum::RequestTrace* trace = nullptr,
                std::string_view key_id = {});

 private:
  RequestObserver& observer_;
  Api api_;
  Method method_;
  std::string uid_;
  quorum::Clock::time_point started_;
};

/// One unary call that waits for the engine. Finishes exactly once (the
/// engine's handler calls Finish), turns gRPC cancellation into a
/// cancellation of the engine operation on its strand, and deletes itself
/// when gRPC is done with it.
class EngineReactor final : public grpc::ServerUnaryReactor {
 public:
  /// `inflight` must have been entered for this call; OnDone leaves it.
  /// The reactor keeps `engine` alive until gRPC is done with the call.
  EngineReactor(std::shared_ptr<quorum::Engine> engine, quorum::Strand strand, Inflight& inflight,
                RequestLog log)
      : engine_(std::move(engine)),
        strand_(std::move(strand)),
        signal_(std::make_shared<asio::cancellation_signal>()),
        inflight_(inflight),
        log_(std::move(log)),
        trace_(std::make_shared<quorum::RequestTrace>()) {}

  quorum::Engine& engine() { return *engine_; }
  const quorum::Strand& strand() const { return strand_; }
  asio::cancellation_slot slot() { return signal_->slot(); }
  const std::shared_ptr<quorum::RequestTrace>& trace() const { return trace_; }

  /// Logs, counts and sends the answer.
  void finish(const Error& e, std::string_view key_id = {}) {
    const grpc::Status status = to_grpc(e);
    log_.answered(status, trace_.get(), key_id);
    Finish(status);
  }

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
  std::shared_ptr<quorum::Engine> engine_;
  quorum::Strand strand_;
  std::shared_ptr<asio::cancellation_signal> signal_;
  Inflight& inflight_;
  RequestLog log_;
  std::shared_ptr<quorum::RequestTrace> trace_;
};

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

/// A request past its checks of form: either on its way to the engine (a
/// reactor holding the engine in force, and the engine deadline), or
/// already answered (no time left, or draining).
struct Admitted {
  EngineReactor* reactor = nullptr;
  quorum::Clock::time_point deadline{};
  grpc::ServerUnaryReactor* answered = nullptr;  ///< return this when set
};
Admitted admit(ServiceContext& context, grpc::CallbackServerContext* ctx, RequestLog log);

/// A call answered at once, without the engine. It stays in `inflight`
/// until gRPC has sent the answer, so that a shutdown never cancels an
/// answer already logged (a refusal while draining, above all).
class AnsweredReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit AnsweredReactor(Inflight& inflight) : inflight_(inflight) { inflight_.enter_to_answer(); }
  void OnDone() override {
    inflight_.leave();
    delete this;
  }

 private:
  Inflight& inflight_;
};

/// Finishes the call at once with `status`, logged and counted.
inline grpc::ServerUnaryReactor* finish_now(Inflight& inflight, RequestLog& log,
                                            const grpc::Status& status) {
  log.answered(status);
  auto* reactor = new AnsweredReactor(inflight);
  reactor->Finish(status);
  return reactor;
}

}  // namespace trousseau::kms
