// trousseau-floor: the transport's own limit. A gRPC server built the way
// kms::Server builds its own (same gRPC, callback services, and no
// ServerBuilder options beyond the listening port and the two services;
// keep it in step with kms::Server::start()), answering KMS v2 and v1beta1
// with constant messages: no engine, no provider, no crypto. What the load
// generator measures against it is the cost of gRPC on a unix socket on
// this machine, the floor beneath every Trousseau figure.
//
// Prints "ready" on stdout once serving; stops on SIGTERM or SIGINT.
// --fail-every N makes every Nth call fail with UNAVAILABLE, so that the
// load generator's error accounting can be tested; it is off by default.
// --delay-ms D answers every call D ms after it arrived, from an Asio timer
// armed on the gRPC thread that received it and fired on one io thread:
// the floor of a request that waits on a KMS (bench/run, scenario b). Not a
// grpc::Alarm: gRPC's timers are checked about once a millisecond, which
// would put a millisecond of the timer's own into the floor.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <iostream>

#include "kms_v1beta1.grpc.pb.h"
#include "kms_v2.grpc.pb.h"

namespace {

constexpr const char* kKeyId = "floor-key-1";

/// Constant answers of realistic sizes: a 32-byte DEK seed as plaintext,
/// and a ciphertext the size of a Trousseau envelope.
/// A call answered `delay` after it arrived, from the timer's handler; it
/// deletes itself when gRPC is done with it (perhaps inline in Finish: the
/// handler has left the timer by then).
class DelayedReactor final : public grpc::ServerUnaryReactor {
 public:
  DelayedReactor(boost::asio::io_context& io, std::chrono::microseconds delay) : timer_(io, delay) {
    timer_.async_wait([this](boost::system::error_code) { Finish(grpc::Status::OK); });
  }
  void OnDone() override { delete this; }
  void OnCancel() override {}

 private:
  boost::asio::steady_timer timer_;
};

struct Answers {
  std::string plaintext = std::string(32, 'p');
  std::string ciphertext;
  std::uint64_t fail_every = 0;
  std::chrono::microseconds delay{};
  boost::asio::io_context* timers = nullptr;  ///< runs the delays, when set
  std::atomic<std::uint64_t> calls{0};

  /// Finishes the call: OK, or UNAVAILABLE for every fail_every-th call;
  /// after `delay` when it is set.
  grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* ctx) {
    if (delay.count() > 0) return new DelayedReactor(*timers, delay);
    auto* reactor = ctx->DefaultReactor();
    if (fail_every > 0 && (calls.fetch_add(1, std::memory_order_relaxed) + 1) % fail_every == 0) {
      reactor->Finish({grpc::StatusCode::UNAVAILABLE,
                       "the floor fails every " + std::to_string(fail_every) + "th call"});
    } else {
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }
};

class FloorV2 final : public v2::KeyManagementService::CallbackService {
 public:
  explicit FloorV2(Answers& answers) : answers_(answers) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const v2::StatusRequest*,
                                   v2::StatusResponse* resp) override {
    resp->set_version("v2");
    resp->set_healthz("ok");
    resp->set_key_id(kKeyId);
    return answers_.finish(ctx);
  }
  grpc::ServerUnaryReactor* Encrypt(grpc::CallbackServerContext* ctx, const v2::EncryptRequest*,
                                    v2::EncryptResponse* resp) override {
    resp->set_ciphertext(answers_.ciphertext);
    resp->set_key_id(kKeyId);
    return answers_.finish(ctx);
  }
  grpc::ServerUnaryReactor* Decrypt(grpc::CallbackServerContext* ctx, const v2::DecryptRequest*,
                                    v2::DecryptResponse* resp) override {
    resp->set_plaintext(answers_.plaintext);
    return answers_.finish(ctx);
  }

 private:
  Answers& answers_;
};

class FloorV1beta1 final : public v1beta1::KeyManagementService::CallbackService {
 public:
  explicit FloorV1beta1(Answers& answers) : answers_(answers) {}

  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* ctx,
                                    const v1beta1::VersionRequest*,
                                    v1beta1::VersionResponse* resp) override {
    resp->set_version("v1beta1");
    resp->set_runtime_name("trousseau-floor");
    resp->set_runtime_version(TROUSSEAU_VERSION);
    return answers_.finish(ctx);
  }
  grpc::ServerUnaryReactor* Encrypt(grpc::CallbackServerContext* ctx,
                                    const v1beta1::EncryptRequest*,
                                    v1beta1::EncryptResponse* resp) override {
    resp->set_cipher(answers_.ciphertext);
    return answers_.finish(ctx);
  }
  grpc::ServerUnaryReactor* Decrypt(grpc::CallbackServerContext* ctx,
                                    const v1beta1::DecryptRequest*,
                                    v1beta1::DecryptResponse* resp) override {
    resp->set_plain(answers_.plaintext);
    return answers_.finish(ctx);
  }

 private:
  Answers& answers_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A constant-answer KMS v2 and v1beta1 server: the floor for benchmarks"};
  std::string socket;
  std::size_t ciphertext_size = 120;
  Answers answers;
  app.add_option("--socket", socket, "Unix socket to serve on")->required();
  app.add_option("--ciphertext-size", ciphertext_size, "Bytes of the ciphertext Encrypt returns")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--fail-every", answers.fail_every,
                 "Fail every Nth call with UNAVAILABLE (0: never)")
      ->capture_default_str();
  double delay_ms = 0;
  app.add_option("--delay-ms", delay_ms, "Answer every call this long after it arrived")
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  answers.delay = std::chrono::microseconds(static_cast<std::int64_t>(delay_ms * 1000));
  boost::asio::io_context timers;
  auto keep_running = boost::asio::make_work_guard(timers);
  answers.timers = &timers;

  // Block the stop signals in every thread (gRPC's start below); main waits.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // A socket left by an earlier run goes; anything else at the path stays.
  struct ::stat st {};
  if (::lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(socket.c_str());

  answers.ciphertext = std::string(ciphertext_size, 'c');
  FloorV2 v2_service(answers);
  FloorV1beta1 v1beta1_service(answers);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&v2_service);
  builder.RegisterService(&v1beta1_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "cannot listen on unix:" << socket << "\n";
    return 1;
  }
  std::jthread timer_thread([&timers] { timers.run(); });
  std::cout << "ready" << std::endl;

  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  keep_running.reset();
  timers.stop();
  ::unlink(socket.c_str());
  return 0;
}
