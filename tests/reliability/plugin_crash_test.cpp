// The plugin itself killed with SIGKILL in the middle of a load of degraded
// writes, and started again; and a state directory it cannot write. Real
// `trousseau serve` processes, two key files, and moto behind a proxy that
// is cut, so that every write misses it (2-of-3, writes need 2 slots).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/bytes.hpp"
#include "kms/client.hpp"
#include "providers/awskms/moto.hpp"
#include "support/double_process.hpp"
#include "support/serve_process.hpp"
#include "support/tcp_proxy.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "support/wrapped_by.hpp"

namespace trousseau {
namespace {

using namespace std::chrono_literals;
using kms::Client;
using testkit::MotoServer;
using testkit::ServeProcess;
using testkit::TcpProxy;

std::string config(const std::string& aws_endpoint, const std::string& arn,
                   const std::string& state_dir = "") {
  return (state_dir.empty() ? std::string() : "state_dir: " + state_dir + "\n") +
         "providers:\n"
         "  - {name: a, type: keyfile, path: \"{dir}/a.key\"}\n"
         "  - {name: b, type: keyfile, path: \"{dir}/b.key\"}\n"
         "  - {name: aws, type: awskms, region: us-east-1, key_id: " + arn +
         ", endpoint: " + aws_endpoint + ", cluster_name: crash, timeout: 400ms}\n"
         "policy:\n"
         "  threshold: 2\n"
         "  min_encrypt_slots: 2\n"
         "  slots: [{providers: [a]}, {providers: [b]}, {providers: [aws]}]\n"
         "request:\n"
         "  encrypt_grace: 50ms\n"
         "health:\n"
         "  probe_interval: 300ms\n"
         "  unhealthy_probe_interval: 200ms\n"
         "  failure_threshold: 1\n"
         "  breaker_backoff: 200ms\n";
}

std::string key_id_of(Client& client) {
  v2::StatusResponse s;
  return client.status(s).ok() ? s.key_id() : std::string();
}

bool healthy(Client& client) {
  v2::StatusResponse s;
  return client.status(s).ok() && s.healthz() == "ok";
}

struct Answered {
  std::string seed;
  v2::EncryptResponse envelope;
};

class PluginCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    arn = moto.prepare_key();
    ASSERT_FALSE(arn.empty());
  }
  MotoServer moto;
  std::string arn;
};

TEST_F(PluginCrash, WhatItAnsweredBeforeASigkillDecryptsAfterAndItsWriteStateSurvives) {
  TcpProxy proxy(moto.port());
  ServeProcess server(config(proxy.endpoint(), arn));
  ASSERT_TRUE(server.started());
  Client client(server.socket());
  ASSERT_TRUE(testkit::wait_until([&] { return healthy(client); }));
  const std::string complete = key_id_of(client);

  proxy.cut();  // every write from now on misses aws
  std::mutex mutex;
  std::vector<Answered> answered;
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      Client c(server.socket(), {.timeout = 1000ms, .wait_for_ready = false});
      for (int i = 0; !stop; ++i) {
        Answered a{std::string(32, static_cast<char>('a' + t)) + std::to_string(i), {}};
        if (c.encrypt(a.seed, a.envelope).ok()) {
          std::lock_guard lock(mutex);
          answered.push_back(std::move(a));
          testkit::notify_waiters();
        }
      }
    });
  }
  ASSERT_TRUE(testkit::wait_until([&] {
    std::lock_guard lock(mutex);
    return answered.size() >= 100;
  }));
  server.kill();  // mid-load: the threads are still sending
  stop = true;
  for (auto& t : load) t.join();

  std::string degraded;
  {
    std::lock_guard lock(mutex);
    degraded = answered.front().envelope.key_id();
    for (const Answered& a : answered) {
      EXPECT_EQ(testkit::wrapped_by(a.envelope), (std::set<std::string>{"a", "b"}));
      EXPECT_EQ(a.envelope.key_id(), degraded);
    }
  }
  EXPECT_NE(degraded, complete);

  // The write state reached the disk before the kill (each change is
  // written on the engine's writer thread, not on the request path).
  const std::string state = server.dir().file("state/state.json");
  EXPECT_EQ(testkit::read_text_file(state), "{\"version\":2,\"missing\":[\"aws\"]}\n");

  ASSERT_TRUE(server.restart()) << server.log();
  // It survived the kill: the restarted plugin reads it, and with aws still
  // cut off it never reports the complete writes' key_id. (Not `degraded`
  // either: aws's key identity needs an answer from aws, so a node started
  // during an outage reports a key_id of its own until aws is back.)
  EXPECT_EQ(server.log().find("cannot load the write state"), std::string::npos) << server.log();
  EXPECT_NE(key_id_of(client), complete);
  v2::EncryptResponse after;
  ASSERT_TRUE(client.encrypt("after the restart", after).ok());
  EXPECT_EQ(after.key_id(), key_id_of(client)) << "Status must agree with the write";
  EXPECT_EQ(testkit::wrapped_by(after), (std::set<std::string>{"a", "b"}));
  // Every envelope answered before the kill opens.
  for (const Answered& a : answered) {
    v2::DecryptResponse out;
    const grpc::Status st =
        client.decrypt(a.envelope.ciphertext(), a.envelope.key_id(), a.envelope.annotations(), out);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(out.plaintext(), a.seed);
  }
  proxy.restore();
  EXPECT_TRUE(testkit::wait_until([&] { return key_id_of(client) == complete; }));
  EXPECT_EQ(server.stop(), 0) << server.log();
}

// CI runs as root, whom permissions do not stop: the state directory is
// made unwritable by putting it under a regular file (ENOTDIR).
TEST_F(PluginCrash, AStateDirectoryItCannotWriteCostsNoRequest) {
  testkit::TempDir elsewhere;
  testkit::write_file(elsewhere.file("not-a-directory"), "x");
  TcpProxy proxy(moto.port());
  ServeProcess server(config(proxy.endpoint(), arn, elsewhere.file("not-a-directory/state")));
  ASSERT_TRUE(server.started());
  Client client(server.socket());
  ASSERT_TRUE(testkit::wait_until([&] { return healthy(client); }));
  const std::string complete = key_id_of(client);
  proxy.cut();
  v2::EncryptResponse enc;
  ASSERT_TRUE(client.encrypt(std::string(32, 's'), enc).ok());
  EXPECT_NE(enc.key_id(), complete);
  EXPECT_EQ(key_id_of(client), enc.key_id());  // kept in memory
  EXPECT_TRUE(testkit::wait_until(
      [&] { return server.log().find("cannot save the write state") != std::string::npos; }))
      << server.log();
  v2::DecryptResponse out;
  ASSERT_TRUE(client.decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), out).ok());
  EXPECT_EQ(out.plaintext(), std::string(32, 's'));
  proxy.restore();
  EXPECT_TRUE(testkit::wait_until([&] { return key_id_of(client) == complete; }));
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace trousseau
