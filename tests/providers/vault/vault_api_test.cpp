// What Vault's answers and errors mean to the provider, without a server.
#include <gtest/gtest.h>

#include "providers/vault/vault_api.hpp"

namespace trousseau::providers::vault {
namespace {

http::Response answer(unsigned status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(VaultErrors, TamperingIsIntegrityAndCarriesVaultsText) {
  Error e = map_vault_error("decrypt", answer(400, R"({"errors":["cipher: message authentication failed"]})"));
  EXPECT_EQ(e.code(), Code::integrity);
  EXPECT_EQ(e.message(), R"(decrypt: HTTP 400: "cipher: message authentication failed")");
}

TEST(VaultErrors, ARetiredVersionSaysSo) {
  Error e = map_vault_error(
      "decrypt", answer(400, R"j({"errors":["ciphertext or signature version is disallowed by policy (too old)"]})j"));
  EXPECT_EQ(e.code(), Code::invalid_argument);
  EXPECT_NE(e.message().find("min_decryption_version"), std::string::npos) << e.message();
}

TEST(VaultErrors, StatusCodesMapToCodes) {
  EXPECT_EQ(map_vault_error("x", answer(403, R"({"errors":["permission denied"]})")).code(),
            Code::permission_denied);
  EXPECT_EQ(map_vault_error("x", answer(400, R"({"errors":["missing plaintext"]})")).code(),
            Code::invalid_argument);
  EXPECT_EQ(map_vault_error("x", answer(400, R"({"errors":["encryption key not found"]})")).code(),
            Code::unavailable);
  EXPECT_EQ(map_vault_error("x", answer(404, "")).code(), Code::unavailable);
  EXPECT_EQ(map_vault_error("x", answer(429, R"({"errors":["rate limit quota exceeded"]})")).code(),
            Code::unavailable);
  EXPECT_EQ(map_vault_error("x", answer(503, R"({"errors":["Vault is sealed"]})")).code(),
            Code::unavailable);
}

TEST(VaultErrors, JoinsSeveralErrorsAndQuotesThem) {
  EXPECT_EQ(vault_errors(answer(400, R"({"errors":["a","b\nc"]})")), "a; b\nc");
  EXPECT_EQ(map_vault_error("x", answer(400, R"({"errors":["b\nc"]})")).message(),
            R"(x: HTTP 400: "b\nc")");
  EXPECT_EQ(vault_errors(answer(500, "not json")), "");
}

TEST(VaultCiphertext, SplitsOnlyTheVaultFraming) {
  auto s = split_ciphertext("vault:v12:QUJD");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first, 12u);
  EXPECT_EQ(s->second, "QUJD");
  EXPECT_FALSE(split_ciphertext("vault:v:QUJD"));
  EXPECT_FALSE(split_ciphertext("vault:v01:QUJD"));
  EXPECT_FALSE(split_ciphertext("vault:vx:QUJD"));
  EXPECT_FALSE(split_ciphertext("vault:v1234567890:QUJD"));
  EXPECT_FALSE(split_ciphertext("QUJD"));
}

TEST(VaultKeys, DerivedKeysBindContextAndAeadKeysAssociatedData) {
  EXPECT_EQ(context_field({"aes256-gcm96", true, 1, 1}), "context");
  EXPECT_EQ(context_field({"aes256-gcm96", false, 1, 1}), "associated_data");
  EXPECT_EQ(context_field({"chacha20-poly1305", false, 1, 1}), "associated_data");
  EXPECT_EQ(context_field({"rsa-4096", false, 1, 1}), "");
}

TEST(VaultAnswers, ReadsKeyMetadata) {
  std::string body = R"({"data":{"type":"aes256-gcm96","derived":true,"latest_version":3,"min_decryption_version":2}})";
  Result<KeyInfo> k = parse_key_answer(body);
  ASSERT_TRUE(k.ok()) << k.error().message();
  EXPECT_EQ(k->latest_version, 3u);
  EXPECT_EQ(k->min_decryption_version, 2u);
  EXPECT_TRUE(k->derived);
  EXPECT_TRUE(body.empty());  // wiped
}

TEST(VaultAnswers, AnEncryptAnswerWhoseVersionsDisagreeIsRefused) {
  std::string body = R"({"data":{"ciphertext":"vault:v2:QUJD","key_version":3}})";
  EXPECT_FALSE(parse_encrypt_answer(body).ok());
  body = R"({"data":{"ciphertext":"vault:v3:QUJD","key_version":3}})";
  Result<Ciphertext> c = parse_encrypt_answer(body);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->version, 3u);
  EXPECT_EQ(std::string(c->blob.begin(), c->blob.end()), "ABC");
}

TEST(VaultAnswers, ReadsTheAuthBlock) {
  std::string body = R"({"auth":{"client_token":"hvs.x","lease_duration":600,"renewable":true}})";
  Result<Grant> g = parse_auth_answer(body);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->ttl.count(), 600);
  EXPECT_TRUE(g->renewable);
  EXPECT_EQ(as_chars(g->token->view()), "hvs.x");
  std::string none = R"({"auth":null})";
  EXPECT_FALSE(parse_auth_answer(none).ok());
}

}  // namespace
}  // namespace trousseau::providers::vault
