// 2-of-4 over four real backends through the whole server: a key file, a
// SoftHSM2 token, AWS KMS (moto) and Vault Transit (the in-repo Vault test
// double, tests/doubles/vault). Vault's token expires mid-run: reads go on
// through the other three, and Vault comes back once its token file is
// replaced, as Vault Agent or a Secret volume would replace it.
#include <gtest/gtest.h>

#include <filesystem>

#include "envelope/format.hpp"
#include "kms/client.hpp"
#include "providers/awskms/moto.hpp"
#include "providers/pkcs11/softhsm.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"
#include "vault_double.hpp"

namespace trousseau {
namespace {

using namespace std::chrono_literals;
using kms::Client;
using testkit::MotoServer;
using testkit::RunningServer;
using testkit::SoftHsm;
using testkit::VaultDouble;

constexpr unsigned kTokenTtl = 600;  // seconds of the double's clock

std::string config(const SoftHsm& hsm, const MotoServer& moto, const std::string& arn,
                   const VaultDouble& vault, const std::string& token_file) {
  return "providers:\n"
         "  - " + hsm.provider_yaml("hsm") + "\n"
         "  - {name: aws, type: awskms, region: us-east-1, key_id: " + arn +
         ", endpoint: " + moto.endpoint() + ", cluster_name: four, timeout: 500ms}\n"
         "  - {name: vault, type: vault, address: \"" + vault.address() +
         "\", key: trousseau, timeout: 500ms, auth: {method: token, token_file: \"" + token_file +
         "\"}}\n"
         "  - {name: local, type: keyfile, path: \"{dir}/local.key\"}\n"
         "policy:\n"
         "  threshold: 2\n"
         "  min_encrypt_slots: 3\n"
         "  slots: [{providers: [hsm]}, {providers: [aws]}, {providers: [vault]}, "
         "{providers: [local]}]\n"
         "health:\n"
         "  probe_interval: 500ms\n"
         "  unhealthy_probe_interval: 200ms\n"
         "  failure_threshold: 1\n"
         "  breaker_backoff: 200ms\n";
}

class MixedFour : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vault.running());
    arn = moto.prepare_key();
    ASSERT_FALSE(arn.empty());
    vault.create_key("trousseau");
    replace_token(vault.create_token(kTokenTtl, /*renewable=*/false));
    server = std::make_unique<RunningServer>(
        config(SoftHsm::shared(), moto, arn, vault, token_path));
    ASSERT_TRUE(server->started());
    client = std::make_unique<Client>(server->socket());
  }

  /// Swapped in whole (rename), as Vault Agent writes it.
  void replace_token(const std::string& token) {
    testkit::write_file(token_path + ".new", token + "\n");
    std::filesystem::rename(token_path + ".new", token_path);
  }

  quorum::ManagedProvider& provider(const std::string& name) {
    return *server->server().engine()->find(name);
  }

  testkit::TempDir dir;
  const std::string token_path = dir.file("vault-token");
  MotoServer moto;
  VaultDouble vault;
  std::string arn;
  std::unique_ptr<RunningServer> server;
  std::unique_ptr<Client> client;
};

TEST_F(MixedFour, AVaultTokenExpiringMidRunCostsNoReadAndVaultReturnsWithANewToken) {
  ASSERT_TRUE(testkit::wait_until([&] {
    for (const char* p : {"hsm", "aws", "vault", "local"}) {
      if (!provider(p).healthy()) return false;
    }
    return true;
  }));
  const std::string seed(32, 'q');
  v2::EncryptResponse enc;
  grpc::Status st = client->encrypt(seed, enc);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // The token outlives its TTL on the double's clock.
  vault.advance(std::chrono::seconds(kTokenTtl + 1));
  ASSERT_TRUE(testkit::wait_until([&] { return !provider("vault").healthy(); }))
      << "a probe must notice the expired token";
  EXPECT_NE(provider("vault").health().last_error, "");

  // Reads go on through hsm, aws and local; so do writes (W = 3 of 4).
  for (int i = 0; i < 5; ++i) {
    v2::DecryptResponse dec;
    st = client->decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), dec);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(dec.plaintext(), seed);
  }
  v2::EncryptResponse during;
  st = client->encrypt(seed, during);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // A new token in the file brings Vault back, without a restart.
  replace_token(vault.create_token(kTokenTtl, false));
  ASSERT_TRUE(testkit::wait_until([&] { return provider("vault").healthy(); }))
      << provider("vault").health().last_error;

  // Vault wraps again: the next envelope holds a share from it (every
  // provider is asked on Encrypt), and that envelope opens.
  v2::EncryptResponse after;
  st = client->encrypt(seed, after);
  ASSERT_TRUE(st.ok()) << st.error_message();
  envelope::Annotations annotations;
  for (const auto& [k, v] : after.annotations()) annotations.emplace(k, to_bytes(v));
  auto env = envelope::parse(as_bytes(after.ciphertext()), annotations);
  ASSERT_TRUE(env.ok()) << env.error().message();
  bool vault_wrapped = false;
  for (const envelope::Slot& slot : env->slots) {
    for (const envelope::ShareRef& ref : slot.wraps) vault_wrapped |= ref.provider == "vault";
  }
  EXPECT_TRUE(vault_wrapped);
  v2::DecryptResponse dec;
  st = client->decrypt(after.ciphertext(), after.key_id(), after.annotations(), dec);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(dec.plaintext(), seed);
}

}  // namespace
}  // namespace trousseau
