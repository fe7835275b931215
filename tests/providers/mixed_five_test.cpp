// 3-of-5 over five kinds of KMS through the whole server: a KMIP key
// manager (PyKMIP's real server), Google Cloud KMS (the in-repo double,
// tests/doubles/gcp), a PKCS#11 HSM (SoftHSM2), AWS KMS (moto) and a key
// file. PyKMIP is killed mid-run: reads and writes go on through the other
// four, its health names the dead endpoint, and once it is started again
// (its database kept the key) it is healthy and wraps its share of the next
// envelope, under the key_id of complete writes again, which has
// kube-apiserver rewrite the degraded write.
#include <gtest/gtest.h>

#include "cloudkms_double.hpp"
#include "envelope/format.hpp"
#include "kms/client.hpp"
#include "providers/awskms/moto.hpp"
#include "providers/pkcs11/softhsm.hpp"
#include "pykmip_server.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"
#include "support/wrapped_by.hpp"

namespace trousseau {
namespace {

using kms::Client;
using testkit::wrapped_by;
using testkit::CloudKmsDouble;
using testkit::MotoServer;
using testkit::PyKmipServer;
using testkit::RunningServer;
using testkit::SoftHsm;

constexpr const char* kAll[] = {"kmip", "gcp", "hsm", "aws", "local"};

/// Which providers hold a share of the envelope `response` carries.
class MixedFive : public ::testing::Test {
 protected:
  void SetUp() override {
    MotoServer::export_credentials();
    ASSERT_TRUE(kmip.running()) << kmip.log_tail();
    ASSERT_TRUE(gcp.running());
    ASSERT_TRUE(moto.running()) << moto.log_tail();
    const std::string uid = kmip.create_key("five");
    const std::string gcp_key = CloudKmsDouble::key_path("five");
    gcp.create_key(gcp_key);
    const std::string arn = moto.create_key();
    ASSERT_FALSE(uid.empty());
    ASSERT_FALSE(arn.empty());
    server = std::make_unique<RunningServer>(
        "providers:\n"
        "  - {name: kmip, " + kmip.entry(uid, "timeout: 1s") + "}\n"
        "  - {name: gcp, type: gcpkms, " + gcp.entry(gcp_key, "timeout: 1s") + "}\n"
        "  - " + SoftHsm::shared().provider_yaml("hsm") + "\n"
        "  - {name: aws, type: awskms, region: us-east-1, key_id: " + arn +
        ", endpoint: " + moto.endpoint() + ", cluster_name: five, timeout: 1s}\n"
        "  - {name: local, type: keyfile, path: \"{dir}/local.key\"}\n"
        "policy:\n"
        "  threshold: 3\n"
        "  min_encrypt_slots: 4\n"
        "  slots: [{providers: [kmip]}, {providers: [gcp]}, {providers: [hsm]}, "
        "{providers: [aws]}, {providers: [local]}]\n"
        "health:\n"
        "  probe_interval: 500ms\n"
        "  unhealthy_probe_interval: 200ms\n"
        "  failure_threshold: 1\n"
        "  breaker_backoff: 200ms\n");
    ASSERT_TRUE(server->started());
    client = std::make_unique<Client>(server->socket());
  }

  quorum::ManagedProvider& provider(const std::string& name) {
    return *server->server().engine()->find(name);
  }
  bool all_healthy() {
    for (const char* p : kAll) {
      if (!provider(p).healthy()) return false;
    }
    return true;
  }
  void expect_decrypts(const v2::EncryptResponse& enc, const std::string& plaintext) {
    v2::DecryptResponse dec;
    grpc::Status st = client->decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), dec);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(dec.plaintext(), plaintext);
  }

  PyKmipServer kmip;
  CloudKmsDouble gcp;
  MotoServer moto;
  std::unique_ptr<RunningServer> server;
  std::unique_ptr<Client> client;
};

TEST_F(MixedFive, PyKmipKilledMidRunCostsNoReadOrWriteAndRejoinsWhenItIsBack) {
  ASSERT_TRUE(testkit::wait_until([&] { return all_healthy(); }));
  const std::string seed(32, 'f');
  v2::EncryptResponse before;
  grpc::Status st = client->encrypt(seed, before);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(wrapped_by(before), (std::set<std::string>{"kmip", "gcp", "hsm", "aws", "local"}));
  expect_decrypts(before, seed);

  kmip.kill();
  ASSERT_TRUE(testkit::wait_until([&] { return !provider("kmip").healthy(); }))
      << "a probe must notice the dead KMIP server";
  EXPECT_NE(provider("kmip").health().last_error.find(kmip.endpoint()), std::string::npos)
      << provider("kmip").health().last_error;

  // Three of the other four open what was written before; writes reach the
  // four still up (W = 4).
  for (int i = 0; i < 3; ++i) expect_decrypts(before, seed);
  v2::EncryptResponse during;
  st = client->encrypt(seed, during);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(wrapped_by(during), (std::set<std::string>{"gcp", "hsm", "aws", "local"}));
  expect_decrypts(during, seed);

  kmip.start();
  ASSERT_TRUE(kmip.running()) << kmip.log_tail();
  ASSERT_TRUE(testkit::wait_until([&] { return provider("kmip").healthy(); }))
      << provider("kmip").health().last_error;
  // The write during the outage was degraded, and its key_id names what it
  // missed. Once kmip is back, key_id is that of complete writes again, so
  // kube-apiserver sees the degraded envelope as stale and rewrites it
  // (engine.hpp).
  EXPECT_NE(during.key_id(), before.key_id());
  ASSERT_TRUE(testkit::wait_until([&] {
    v2::StatusResponse s;
    return client->status(s).ok() && s.key_id() == before.key_id();
  }));
  v2::EncryptResponse after;
  st = client->encrypt(seed, after);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(wrapped_by(after).count("kmip"), 1u);
  EXPECT_EQ(after.key_id(), before.key_id());
  expect_decrypts(after, seed);
  expect_decrypts(before, seed);
}

}  // namespace
}  // namespace trousseau
