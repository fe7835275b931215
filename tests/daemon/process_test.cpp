// The real `trousseau serve` process: SIGHUP reloads, a bad configuration
// keeps the running one, and SIGTERM under load answers every request it
// accepted.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "kms/client.hpp"
#include "support/running_server.hpp"
#include "support/serve_process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau {
namespace {

using namespace std::chrono_literals;
using testkit::ServeProcess;

/// How many times `text` occurs in what the server logged so far.
int logged(const ServeProcess& server, const std::string& text) {
  const std::string all = server.log();
  int n = 0;
  for (auto pos = all.find(text); pos != std::string::npos; pos = all.find(text, pos + 1)) ++n;
  return n;
}

/// Rewrites the served configuration (the same socket and state directory).
void rewrite(const ServeProcess& server, const std::string& yaml) {
  testkit::write_file(server.config_path() + ".new", testkit::complete_config(yaml, server.dir()));
  std::filesystem::rename(server.config_path() + ".new", server.config_path());
}

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

// A process holding keys writes no core file: its core limit is 0 (and it
// is non-dumpable, which common_process checks, as root sees no
// difference in /proc).
TEST(ServeProcess, TheServerCannotDumpCore) {
  ServeProcess server(kOneKey);
  ASSERT_TRUE(server.started());
  std::ifstream limits("/proc/" + std::to_string(server.pid()) + "/limits");
  std::string line, core;
  while (std::getline(limits, line)) {
    if (line.rfind("Max core file size", 0) == 0) core = line;
  }
  ASSERT_FALSE(core.empty());
  std::istringstream fields(core.substr(std::string("Max core file size").size()));
  std::string soft, hard;
  fields >> soft >> hard;
  EXPECT_EQ(soft, "0") << core;
  EXPECT_EQ(hard, "0") << core;
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeProcess, SighupWithABadConfigurationKeepsServingTheOldOne) {
  ServeProcess server(kOneKey);
  ASSERT_TRUE(server.started());
  kms::Client client(server.socket());
  v2::StatusResponse before;
  ASSERT_TRUE(client.status(before).ok());

  rewrite(server, "providers: [}");
  ASSERT_TRUE(server.signal(SIGHUP));
  ASSERT_TRUE(testkit::wait_until([&] { return logged(server, "reload failed") >= 1; }));
  v2::StatusResponse after;
  ASSERT_TRUE(client.status(after).ok());
  EXPECT_EQ(after.key_id(), before.key_id());
  v2::EncryptResponse enc;
  EXPECT_TRUE(client.encrypt("still here", enc).ok());
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeProcess, SighupThatAddsAProviderStartsUsingIt) {
  ServeProcess server(kOneKey);
  ASSERT_TRUE(server.started());
  kms::Client client(server.socket());
  v2::EncryptResponse old_envelope;
  ASSERT_TRUE(client.encrypt("before", old_envelope).ok());

  rewrite(server, kTwoKeys);
  ASSERT_TRUE(server.signal(SIGHUP));
  // The file watch may see the change first: either way a reload lands.
  ASSERT_TRUE(testkit::wait_until([&] { return logged(server, "configuration reloaded") >= 1; }));
  v2::StatusResponse st;
  ASSERT_TRUE(client.status(st).ok());
  EXPECT_NE(st.key_id(), old_envelope.key_id());
  EXPECT_TRUE(std::filesystem::exists(server.dir().file("b.key")));
  v2::EncryptResponse fresh;
  ASSERT_TRUE(client.encrypt("after", fresh).ok());
  EXPECT_EQ(fresh.key_id(), st.key_id());
  v2::DecryptResponse out;
  ASSERT_TRUE(client.decrypt(old_envelope.ciphertext(), old_envelope.key_id(),
                             old_envelope.annotations(), out).ok());
  EXPECT_EQ(out.plaintext(), "before");
  EXPECT_EQ(server.stop(), 0);
}

// SIGTERM while many calls are running: every call the services received
// is answered in full (OK), or refused while draining (UNAVAILABLE "shutting
// down"); a call that never reached them finds no socket or is cancelled by
// gRPC. Never a wrong plaintext, never a call accepted and then dropped.
TEST(ServeProcess, SigtermUnderLoadAnswersEveryAcceptedRequest) {
  ServeProcess server(kTwoKeys);
  ASSERT_TRUE(server.started());
  kms::Client client(server.socket(), {.timeout = 10s});
  v2::EncryptResponse enc;
  ASSERT_TRUE(client.encrypt("under load", enc).ok());
  std::atomic<bool> stop_sending{false};
  std::atomic<int> answered{0};
  auto worker = [&] {
    kms::Client own(server.socket(), {.timeout = 5s});
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
  EXPECT_EQ(server.stop(), 0);  // SIGTERM, and the process exits 0
  stop_sending = true;
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
  EXPECT_EQ(logged(server, "\"msg\":\"request\",\"rpc\":\"v2.Decrypt\""), ok + refused);
  EXPECT_GE(ok, 50);
  EXPECT_GE(logged(server, "\"msg\":\"draining\""), 1);
}

}  // namespace
}  // namespace trousseau
