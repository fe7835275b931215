// The azurekv provider inside a whole Trousseau server (in process, on its
// unix socket), with a key file beside it: the KMS v2 round trip, and a
// rotation in the vault reaching Status's key_id through the health probe.
#include <gtest/gtest.h>

#include "keyvault_double.hpp"
#include "kms/client.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::azurekv {
namespace {

using kms::Client;
using testkit::KeyVaultDouble;
using testkit::RunningServer;

std::string status_key_id(Client& client) {
  v2::StatusResponse st;
  return client.status(st).ok() && st.healthz() == "ok" ? st.key_id() : std::string();
}

TEST(AzureKvThroughTheServer, EncryptDecryptAndARotationReachesTheKeyId) {
  KeyVaultDouble vault;
  ASSERT_TRUE(vault.running());
  vault.create_key("served", "RSA");
  RunningServer server(
      "providers:\n"
      "  - {name: azure, type: azurekv, " + vault.entry("served") + "}\n"
      "  - {name: local, type: keyfile, path: \"{dir}/local.key\"}\n"
      "policy:\n"
      "  threshold: 2\n"
      "  slots: [{providers: [azure]}, {providers: [local]}]\n"
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

  // A new version in the vault: the next probe sees it, and key_id moves on.
  vault.rotate_key("served");
  std::string second_id;
  ASSERT_TRUE(testkit::wait_until([&] {
    second_id = status_key_id(client);
    return !second_id.empty() && second_id != first_id;
  }));
  v2::EncryptResponse after;
  ASSERT_TRUE(client.encrypt(seed, after).ok());
  EXPECT_EQ(after.key_id(), second_id);

  // Both open: the old one under the version that wrapped it.
  for (const v2::EncryptResponse* e : {&before, &after}) {
    v2::DecryptResponse back;
    grpc::Status st = client.decrypt(e->ciphertext(), e->key_id(), e->annotations(), back);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(back.plaintext(), seed);
  }
}

}  // namespace
}  // namespace trousseau::providers::azurekv
