// 2-of-3 over a real SoftHSM2 token, AWS KMS (moto) and a key file, through
// the whole server: moto dies mid-run and comes back.
#include <gtest/gtest.h>

#include <thread>

#include "kms/client.hpp"
#include "providers/awskms/moto.hpp"
#include "providers/pkcs11/softhsm.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"

namespace trousseau {
namespace {

using namespace std::chrono_literals;
using kms::Client;
using testkit::MotoServer;
using testkit::RunningServer;
using testkit::SoftHsm;

constexpr unsigned kSeed = 424242;

std::string config(const SoftHsm& hsm, const MotoServer& moto, const std::string& arn,
                   unsigned min_encrypt_slots) {
  return "providers:\n"
         "  - " + hsm.provider_yaml("hsm") + "\n"
         "  - {name: aws, type: awskms, region: us-east-1, key_id: " + arn +
         ", endpoint: " + moto.endpoint() + ", cluster_name: mixed, timeout: 500ms}\n"
         "  - {name: local, type: keyfile, path: \"{dir}/local.key\"}\n"
         "policy:\n"
         "  threshold: 2\n"
         "  min_encrypt_slots: " + std::to_string(min_encrypt_slots) + "\n"
         "  slots: [{providers: [hsm]}, {providers: [aws]}, {providers: [local]}]\n"
         "health:\n"
         "  probe_interval: 500ms\n"
         "  unhealthy_probe_interval: 200ms\n"
         "  failure_threshold: 1\n"
         "  breaker_backoff: 200ms\n";
}

/// Asks Status until healthz says `want`: a state to wait for, not a time
/// bound (wait_until's guard only turns a hang into a failure).
bool wait_for_healthz(Client& client, bool want) {
  return testkit::wait_until([&] {
    v2::StatusResponse st;
    return client.status(st).ok() && (st.healthz() == "ok") == want;
  });
}

class MixedQuorum : public ::testing::TestWithParam<unsigned> {
 protected:
  void SetUp() override {
    MotoServer::export_credentials();
    ASSERT_TRUE(moto.running()) << moto.log_tail();
    moto.seed(kSeed);
    arn = moto.create_key();
    ASSERT_FALSE(arn.empty());
    server = std::make_unique<RunningServer>(config(SoftHsm::shared(), moto, arn, GetParam()));
    ASSERT_TRUE(server->started());
    client = std::make_unique<Client>(server->socket());
  }

  MotoServer moto;
  std::string arn;
  std::unique_ptr<RunningServer> server;
  std::unique_ptr<Client> client;
};

TEST_P(MixedQuorum, SurvivesMotoDyingAndRecoversWhenItReturns) {
  const unsigned w = GetParam();
  ASSERT_TRUE(wait_for_healthz(*client, true));
  const std::string seed(32, 'm');
  v2::EncryptResponse enc;
  grpc::Status st = client->encrypt(seed, enc);
  ASSERT_TRUE(st.ok()) << st.error_message();

  moto.stop();

  // Reads keep working: the token and the key file still make 2 of 3.
  v2::DecryptResponse dec;
  st = client->decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), dec);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(dec.plaintext(), seed);

  // Writes follow the policy: degraded at W=2, refused at W=3.
  v2::EncryptResponse during;
  st = client->encrypt(seed, during);
  if (w == 2) {
    ASSERT_TRUE(st.ok()) << st.error_message();
    v2::DecryptResponse back;
    ASSERT_TRUE(client->decrypt(during.ciphertext(), during.key_id(), during.annotations(), back).ok());
    EXPECT_EQ(back.plaintext(), seed);
    EXPECT_EQ(server->server().engine()->counters().degraded_encrypts, 1u);
  } else {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(st.error_message().find("[aws]"), std::string::npos) << st.error_message();
    EXPECT_TRUE(wait_for_healthz(*client, false)) << "Status must report the lost quorum";
  }

  // moto returns (on the same port, same key id; moto's key material is new).
  const std::string key_id_before = [&] {
    v2::StatusResponse s;
    client->status(s);
    return s.key_id();
  }();
  moto.restart();
  ASSERT_TRUE(moto.running()) << moto.log_tail();
  // Trousseau's probes reach moto between our calls and draw from the same
  // generator, so seed and create until the key id comes out the same.
  std::string again;
  for (int i = 0; i < 50 && again != arn; ++i) {
    moto.seed(kSeed);
    again = moto.create_key();
  }
  ASSERT_EQ(again, arn);
  // The next probe (every 200 ms while unhealthy) finds it again.
  quorum::ManagedProvider* aws = server->server().engine()->find("aws");
  EXPECT_TRUE(testkit::wait_until([&] { return aws->healthy(); })) << aws->health().last_error;
  EXPECT_TRUE(wait_for_healthz(*client, true));
  if (w == 2) {
    // The degraded DEK is retired: key_id leaves the one that names aws as
    // missing (the health monitor clears it right after the probe).
    EXPECT_TRUE(testkit::wait_until([&] {
      v2::StatusResponse s;
      return client->status(s).ok() && s.key_id() != key_id_before;
    }));
  }
  v2::EncryptResponse after;
  st = client->encrypt(seed, after);
  ASSERT_TRUE(st.ok()) << st.error_message();
  if (w == 2) {
    v2::StatusResponse s;
    ASSERT_TRUE(client->status(s).ok());
    EXPECT_NE(s.key_id(), key_id_before);
    EXPECT_EQ(after.key_id(), s.key_id());
  }
  v2::DecryptResponse back;
  st = client->decrypt(after.ciphertext(), after.key_id(), after.annotations(), back);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(back.plaintext(), seed);
}

INSTANTIATE_TEST_SUITE_P(WritePolicies, MixedQuorum, ::testing::Values(2u, 3u),
                         [](const auto& info) { return "W" + std::to_string(info.param); });

}  // namespace
}  // namespace trousseau
