// The gcpkms provider inside a whole Trousseau server (in process, on its
// unix socket), with a key file beside it: the KMS v2 round trip, and a
// rotation in Cloud KMS reaching Status's key_id through the health probe.
#include <gtest/gtest.h>

#include "cloudkms_double.hpp"
#include "kms/client.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::gcpkms {
namespace {

using kms::Client;
using testkit::CloudKmsDouble;
using testkit::RunningServer;

std::string status_key_id(Client& client) {
  v2::StatusResponse st;
  return client.status(st).ok() && st.healthz() == "ok" ? st.key_id() : std::string();
}

TEST(GcpKmsThroughTheServer, EncryptDecryptAndARotationReachesTheKeyId) {
  CloudKmsDouble kms;
  ASSERT_TRUE(kms.running());
  const std::string key = CloudKmsDouble::key_path("served");
  kms.create_key(key);
  RunningServer server(
      "providers:\n"
      "  - {name: gcp, type: gcpkms, " + kms.entry(key) + "}\n"
      "  - {name: local, type: keyfile, path: \"{dir}/local.key\"}\n"
      "policy:\n"
      "  threshold: 2\n"
      "  slots: [{providers: [gcp]}, {providers: [local]}]\n"
      "health:\n"
      "  probe_interval: 100ms\n"
      "  unhealthy_probe_interval: 100ms\n");
  ASSERT_TRUE(server.started());
  Client client(server.socket());
  std::string first_id;
  ASSERT_TRUE(testkit::wait_until([&] { return !(first_id = status_key_id(client)).empty(); }));

  const std::string seed(32, 's');
  v2::EncryptResponse before;
  ASSERT_TRUE(client.encrypt(seed, before).ok());
  EXPECT_EQ(before.key_id(), first_id);

  // A new primary version: the next probe sees it, and key_id moves on.
  kms.rotate_key(key);
  std::string second_id;
  ASSERT_TRUE(testkit::wait_until([&] {
    second_id = status_key_id(client);
    return !second_id.empty() && second_id != first_id;
  }));
  v2::EncryptResponse after;
  ASSERT_TRUE(client.encrypt(seed, after).ok());
  EXPECT_EQ(after.key_id(), second_id);

  // Both open: the old one under the version that encrypted it.
  for (const v2::EncryptResponse* e : {&before, &after}) {
    v2::DecryptResponse back;
    grpc::Status st = client.decrypt(e->ciphertext(), e->key_id(), e->annotations(), back);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(back.plaintext(), seed);
  }
}

}  // namespace
}  // namespace trousseau::providers::gcpkms
