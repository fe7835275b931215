// Migration from the original (Go) Trousseau, through the whole server
// (docs/migration.md): kube-apiserver still holds Secrets it wrote through
// the original over KMS v1beta1, and reads them through us with no
// re-encryption first. The legacy ciphertexts here are made the way the
// original made them, by calling the real KMS emulator directly.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "envelope/format.hpp"
#include "kms/client.hpp"
#include "providers/awskms/moto.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"
#include "vault_double.hpp"

namespace trousseau {
namespace {

using kms::Client;
using testkit::MotoServer;
using testkit::RunningServer;
using testkit::VaultDouble;

const std::string kDek = "a 32-byte data key, from kube-api";

std::string config(const MotoServer& moto, const std::string& arn) {
  return "providers:\n"
         "  - {name: local, type: keyfile, path: \"{dir}/local.key\"}\n"
         "  - {name: old-aws, type: awskms, region: us-east-1, key_id: " + arn +
         ", endpoint: " + moto.endpoint() +
         ", cluster_name: migrated, legacy_encryption_context: {cluster: prod}}\n"
         "policy:\n"
         "  threshold: 1\n"
         "  slots: [{providers: [local]}]\n"
         "legacy:\n"
         "  awskms: old-aws\n";
}

/// What the original's awskms provider returned for `plain`: base64 of the
/// CiphertextBlob of a KMS Encrypt with the configured EncryptionContext.
std::string original_awskms_ciphertext(MotoServer& moto, const std::string& key,
                                       const std::string& plain,
                                       const boost::json::object& context) {
  boost::json::object req{{"KeyId", key}, {"Plaintext", base64_encode(as_bytes(plain))}};
  if (!context.empty()) req["EncryptionContext"] = context;
  const std::string body = moto.kms("Encrypt", boost::json::serialize(req));
  return std::string(boost::json::parse(body).at("CiphertextBlob").as_string());
}

class Migration : public ::testing::Test {
 protected:
  void SetUp() override {
    arn = moto.prepare_key();
    ASSERT_FALSE(arn.empty());
    server = std::make_unique<RunningServer>(config(moto, arn));
    ASSERT_TRUE(server->started());
    client = std::make_unique<Client>(server->socket());
  }

  std::string v2_alpha(const std::string& key, const boost::json::object& context) {
    return "awskms:-:" + original_awskms_ciphertext(moto, key, kDek, context) + "\n";
  }

  MotoServer moto;
  std::string arn;
  std::unique_ptr<RunningServer> server;
  std::unique_ptr<Client> client;
};

TEST_F(Migration, V1beta1OpensTheV2AlphasAwsKmsLines) {
  const std::string legacy = v2_alpha(arn, {{"cluster", "prod"}});
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt(legacy, dec);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(dec.plain(), kDek);
  EXPECT_EQ(server->server().engine()->counters().legacy_reads, 1u);

  // A line of a provider this plugin does not map is skipped when another opens.
  const std::string with_azure = "azurekms:-:" + base64_encode(as_bytes(std::string("x"))) + "\n" + legacy;
  ASSERT_TRUE(client->v1_decrypt(with_azure, dec).ok());
  EXPECT_EQ(dec.plain(), kDek);
}

TEST_F(Migration, NewWritesUseOurEnvelope) {
  v1beta1::EncryptResponse enc;
  ASSERT_TRUE(client->v1_encrypt(kDek, enc).ok());
  ASSERT_GE(enc.cipher().size(), envelope::kMagic.size());
  EXPECT_EQ(enc.cipher().substr(0, 3), "TRS");
  v1beta1::DecryptResponse dec;
  ASSERT_TRUE(client->v1_decrypt(enc.cipher(), dec).ok());
  EXPECT_EQ(dec.plain(), kDek);
  EXPECT_EQ(server->server().engine()->counters().legacy_reads, 0u);
}

// The original spoke v1beta1 only: the same bytes through v2 are refused
// before any KMS is asked.
TEST_F(Migration, KmsV2RefusesLegacyCiphertexts) {
  v2::DecryptResponse dec;
  grpc::Status st = client->decrypt(v2_alpha(arn, {{"cluster", "prod"}}), "some-key-id", {}, dec);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("v1beta1"), std::string::npos) << st.error_message();
  EXPECT_TRUE(dec.plaintext().empty());
  EXPECT_EQ(server->server().engine()->counters().legacy_reads, 0u);
}

// The attacker stores a ciphertext of another key our AWS credentials can
// use. It is never opened: we name the configured key to KMS and check the
// key KMS says it used.
TEST_F(Migration, ACiphertextUnderAnotherKeyIsRefused) {
  const std::string other = moto.create_key();
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt(v2_alpha(other, {{"cluster", "prod"}}), dec);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(dec.plain().empty());
  EXPECT_NE(st.error_message().find("old-aws"), std::string::npos) << st.error_message();
}

TEST_F(Migration, AnotherEncryptionContextIsRefused) {
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt(v2_alpha(arn, {{"cluster", "staging"}}), dec);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(dec.plain().empty());
}

TEST_F(Migration, AnUnmappedOriginIsInvalidArgument) {
  const std::string vault_line =
      "vault:-:" + base64_encode(as_bytes(std::string("vault:v1:") + base64_encode(as_bytes(kDek)))) + "\n";
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt(vault_line, dec);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("legacy.vault"), std::string::npos) << st.error_message();
}

TEST_F(Migration, MalformedLegacyTextIsInvalidArgument) {
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt("awskms:-:not base64\n", dec);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Trousseau v1 spoke to Vault only: kube-apiserver stored Vault Transit's
// own text. The double's transit engine makes it here exactly as the
// original did: encrypt/<key> of base64(DEK), no context.
class MigrationVault : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vault.running());
    vault.create_key("kms-key");   // the original's keyNames[0]
    vault.create_key("other-key");
    token = vault.create_token(3600);
    testkit::write_file(dir.file("vault-token"), token + "\n");
    server = std::make_unique<RunningServer>(
        "providers:\n"
        "  - {name: local, type: keyfile, path: \"{dir}/local.key\"}\n"
        "  - {name: old-vault, type: vault, address: \"" + vault.address() +
        "\", key: kms-key, auth: {method: token, token_file: \"" + dir.file("vault-token") +
        "\"}}\n"
        "policy:\n"
        "  threshold: 1\n"
        "  slots: [{providers: [local]}]\n"
        "legacy:\n"
        "  vault: old-vault\n");
    ASSERT_TRUE(server->started());
    client = std::make_unique<Client>(server->socket());
  }

  /// What the original stored for `plain` under `key`: `vault:vN:...`.
  std::string original_v1(const std::string& plain, const std::string& key = "kms-key") {
    return vault.encrypt(key, base64_encode(as_bytes(plain)));
  }

  testkit::TempDir dir;
  VaultDouble vault;
  std::string token;
  std::unique_ptr<RunningServer> server;
  std::unique_ptr<Client> client;
};

TEST_F(MigrationVault, V1beta1OpensTrousseauV1VaultText) {
  const std::string legacy = original_v1(kDek);
  ASSERT_EQ(legacy.rfind("vault:v1:", 0), 0u) << legacy;
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt(legacy, dec);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(dec.plain(), kDek);
  EXPECT_EQ(server->server().engine()->counters().legacy_reads, 1u);
}

TEST_F(MigrationVault, V1beta1OpensTheV2AlphasVaultLine) {
  const std::string line = "vault:-:" + base64_encode(as_bytes(original_v1(kDek))) + "\n";
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt(line, dec);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(dec.plain(), kDek);
}

// After a rotation in Vault the original's old ciphertexts still open,
// until the operator raises min_decryption_version: then they are refused,
// never opened under another version.
TEST_F(MigrationVault, VaultKeyVersionsAreHonoured) {
  const std::string v1 = original_v1(kDek);
  vault.rotate_key("kms-key");
  const std::string v2 = original_v1(kDek);
  ASSERT_EQ(v2.rfind("vault:v2:", 0), 0u) << v2;
  v1beta1::DecryptResponse dec;
  ASSERT_TRUE(client->v1_decrypt(v1, dec).ok());
  EXPECT_EQ(dec.plain(), kDek);
  vault.set_min_decryption_version("kms-key", 2);
  v1beta1::DecryptResponse refused;
  grpc::Status st = client->v1_decrypt(v1, refused);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(refused.plain().empty());
  ASSERT_TRUE(client->v1_decrypt(v2, dec).ok());
  EXPECT_EQ(dec.plain(), kDek);
}

// The attacker stores Vault text made under another transit key the
// plugin's token can also use. It goes to decrypt/kms-key only, where it
// does not authenticate.
TEST_F(MigrationVault, TextOfAnotherTransitKeyIsRefused) {
  v1beta1::DecryptResponse dec;
  grpc::Status st = client->v1_decrypt(original_v1(kDek, "other-key"), dec);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(dec.plain().empty());
  EXPECT_NE(st.error_message().find("old-vault"), std::string::npos) << st.error_message();
}

TEST_F(MigrationVault, KmsV2RefusesIt) {
  v2::DecryptResponse dec;
  grpc::Status st = client->decrypt(original_v1(kDek), "k", {}, dec);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(dec.plaintext().empty());
}

}  // namespace
}  // namespace trousseau
