// The real `trousseau serve` process: SIGHUP reloads, a bad configuration
// keeps the running one, and SIGTERM under load answers every request it
// accepted.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "kms/kms_client.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau {
namespace {

using namespace std::chrono_literals;
using testkit::KmsClient;
using testkit::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ServeProcess : public ::testing::Test {
 protected:
  std::string config(const std::string& providers_and_policy) const {
    return "socket: " + socket_ + "\nstate_dir: " + dir_.file("state") +
           "\ntelemetry: {listen: off}\n" +
           [&] {
             std::string t = providers_and_policy;
             for (auto pos = t.find("{dir}"); pos != std::string::npos; pos = t.find("{dir}")) {
               t.replace(pos, 5, dir_.path().string());
             }
             return t;
           }();
  }

  void start(const std::string& body) {
    const char* bin = std::getenv("TROUSSEAU_BIN");
    ASSERT_NE(bin, nullptr) << "TROUSSEAU_BIN must point at the trousseau binary";
    testkit::write_file(config_path_, config(body));
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      std::freopen("/dev/null", "w", stdout);
      std::freopen(log_path_.c_str(), "w", stderr);
      ::execl(bin, bin, "serve", "--config", config_path_.c_str(), nullptr);
      ::_exit(127);
    }
    v2::StatusResponse st;
    ASSERT_TRUE(KmsClient(socket_, 10s).status(st).ok());  // waits for the socket
  }

  /// Lines the process logged so far that contain `text`.
  int logged(const std::string& text) const {
    const std::string all = read_all(log_path_);
    int n = 0;
    for (auto pos = all.find(text); pos != std::string::npos; pos = all.find(text, pos + 1)) ++n;
    return n;
  }

  int stop() {
    ::kill(pid_, SIGTERM);
    int wstatus = 0;
    ::waitpid(pid_, &wstatus, 0);
    pid_ = -1;
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  }

  void TearDown() override {
    if (pid_ > 0) stop();
  }

  TempDir dir_;
  std::string socket_ = dir_.file("kms.sock");
  std::string config_path_ = dir_.file("trousseau.yaml");
  std::string log_path_ = dir_.file("stderr.log");
  pid_t pid_ = -1;
};

constexpr const char* kOneKey = R"(
providers: [{name: a, type: keyfile, path: "{dir}/a.key"}]
policy: {threshold: 1, slots: [{providers: [a]}]}
)";

constexpr const char* kTwoKeys = R"(
providers:
  - {name: a, type: keyfile, path: "{dir}/a.key"}
  - {name: b, type: keyfile, path: "{dir}/b.key"}
policy: {threshold: 1, slots: [{providers: [a]}, {providers: [b]}]}
)";

TEST_F(ServeProcess, SighupWithABadConfigurationKeepsServingTheOldOne) {
  ASSERT_NO_FATAL_FAILURE(start(kOneKey));
  KmsClient client(socket_);
  v2::StatusResponse before;
  ASSERT_TRUE(client.status(before).ok());

  testkit::write_file(config_path_, config("providers: [}"));
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  ASSERT_TRUE(testkit::wait_until([&] { return logged("reload failed") >= 1; }));
  v2::StatusResponse after;
  ASSERT_TRUE(client.status(after).ok());
  EXPECT_EQ(after.key_id(), before.key_id());
  v2::EncryptResponse enc;
  EXPECT_TRUE(client.encrypt("still here", enc).ok());
  EXPECT_EQ(stop(), 0);
}

TEST_F(ServeProcess, SighupThatAddsAProviderStartsUsingIt) {
  ASSERT_NO_FATAL_FAILURE(start(kOneKey));
  KmsClient client(socket_);
  v2::EncryptResponse old_envelope;
  ASSERT_TRUE(client.encrypt("before", old_envelope).ok());

  testkit::write_file(config_path_, config(kTwoKeys));
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  // The file watch may see the write first: either way one reload lands.
  ASSERT_TRUE(testkit::wait_until([&] { return logged("configuration reloaded") >= 1; }));
  v2::StatusResponse st;
  ASSERT_TRUE(client.status(st).ok());
  EXPECT_NE(st.key_id(), old_envelope.key_id());
  EXPECT_TRUE(std::filesystem::exists(dir_.file("b.key")));
  v2::EncryptResponse fresh;
  ASSERT_TRUE(client.encrypt("after", fresh).ok());
  EXPECT_EQ(fresh.key_id(), st.key_id());
  v2::DecryptResponse out;
  ASSERT_TRUE(client.decrypt(old_envelope.ciphertext(), old_envelope.key_id(),
                             old_envelope.annotations(), out).ok());
  EXPECT_EQ(out.plaintext(), "before");
  EXPECT_EQ(stop(), 0);
}

// SIGTERM while many calls are running: every call the services received
// is answered in full (OK), or refused while draining (UNAVAILABLE "shutting
// down"); a call that never reached them finds no socket or is cancelled by
// gRPC. Never a wrong plaintext, never a call accepted and then dropped.
TEST_F(ServeProcess, SigtermUnderLoadAnswersEveryAcceptedRequest) {
  ASSERT_NO_FATAL_FAILURE(start(kTwoKeys));
  KmsClient client(socket_, 10s);
  v2::EncryptResponse enc;
  ASSERT_TRUE(client.encrypt("under load", enc).ok());
  std::atomic<bool> stop_sending{false};
  std::atomic<int> answered{0};
  auto worker = [&] {
    KmsClient own(socket_, 5s);
    std::vector<grpc::Status> statuses;
    while (!stop_sending) {
      v2::DecryptResponse out;
      grpc::Status st = own.decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), out);
      if (st.ok() && out.plaintext() != "under load") {
        st = grpc::Status(grpc::StatusCode::DATA_LOSS, "wrong plaintext");
      }
      statuses.push_back(st);
      ++answered;
      if (!st.ok()) break;  // the server is going away
    }
    return statuses;
  };
  std::vector<std::future<std::vector<grpc::Status>>> workers;
  for (int i = 0; i < 8; ++i) workers.push_back(std::async(std::launch::async, worker));
  ASSERT_TRUE(testkit::wait_until([&] { return answered >= 50; }));
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid_, &wstatus, 0), pid_);
  pid_ = -1;
  stop_sending = true;
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  int ok = 0, refused = 0;
  for (auto& w : workers) {
    for (const grpc::Status& st : w.get()) {
      if (st.ok()) {
        ++ok;
      } else if (st.error_code() == grpc::StatusCode::UNAVAILABLE &&
                 st.error_message() == "shutting down") {
        ++refused;
      } else {
        // Only a call our services never saw may end otherwise: no socket
        // (UNAVAILABLE, or DEADLINE_EXCEEDED while waiting for one), or
        // cancelled by gRPC's own shutdown before it was dispatched. The
        // count below proves none of these had been accepted.
        EXPECT_TRUE(st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                    st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                    st.error_code() == grpc::StatusCode::CANCELLED)
            << st.error_code() << " " << st.error_message();
      }
    }
  }
  // The server logs each answer it sends: every one reached its caller.
  EXPECT_EQ(logged("\"msg\":\"request\",\"rpc\":\"v2.Decrypt\""), ok + refused);
  EXPECT_GE(ok, 50);
  EXPECT_GE(logged("\"msg\":\"draining\""), 1);
}

}  // namespace
}  // namespace trousseau
