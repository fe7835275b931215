// Each auth method logs in to the Vault test double, and a token file is
// re-read when it is replaced.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <iterator>

#include "provider_fixture.hpp"
#include "support/test_pki.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::vault {
namespace {

constexpr const char* kJwtKey = "hmac-key-of-the-test-double";

class VaultAuthTest : public VaultFixture {
 protected:
  Bytes context = Bytes{'c'};
  SecretBytes share = SecretBytes::random(32);

  /// A wrap and an unwrap that must work.
  void round_trip(Provider& p) {
    auto [e, w] = wrap(p, context, share.view());
    ASSERT_TRUE(e.ok()) << e.message();
    auto [e2, out] = unwrap(p, context, w.key_version, w.wrapped);
    ASSERT_TRUE(e2.ok()) << e2.message();
    EXPECT_TRUE(out.equals(share.view()));
  }

  static testkit::VaultDoubleOptions jwt_options() {
    testkit::VaultDoubleOptions o;
    o.jwt_hmac_key = kJwtKey;
    return o;
  }
  /// https with the PKI's server certificate, accepting client
  /// certificates from its CA.
  static testkit::VaultDoubleOptions mtls_options(const testkit::TestPki& pki) {
    testkit::VaultDoubleOptions o;
    o.tls_cert = pki.server_cert;
    o.tls_key = pki.server_key;
    o.ca_file = pki.ca_cert;
    o.client_ca = pki.ca_cert;
    return o;
  }

  static std::string exp_claim() { return std::to_string(std::time(nullptr) + 3600); }
};

TEST_F(VaultAuthTest, AppRoleLogsInWithTheSecretIdFromItsFile) {
  auto& v = start_double();
  v.create_key("k");
  v.ok("POST", "sys/auth/approle", R"({"type":"approle"})");
  v.ok("POST", "auth/approle/role/kms", R"({"token_ttl":"300s","token_policies":["default"]})");
  const std::string role_id(v.ok("GET", "auth/approle/role/kms/role-id").json.at("data").at("role_id").as_string());
  const std::string secret_id(v.ok("POST", "auth/approle/role/kms/secret-id").json.at("data").at("secret_id").as_string());
  testkit::write_file(dir.file("secret-id"), secret_id + "\n");
  auto p = create("key: k, auth: {method: approle, role_id: " + role_id + ", secret_id_file: " +
                  dir.file("secret-id") + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  round_trip(**p);
  EXPECT_EQ(as_vault(**p).session_stats().logins, 1u);
}

TEST_F(VaultAuthTest, AWrongSecretIdStartsUnhealthyWithVaultsReason) {
  auto& v = start_double();
  v.create_key("k");
  v.ok("POST", "sys/auth/approle", R"({"type":"approle"})");
  v.ok("POST", "auth/approle/role/kms", R"({"token_ttl":"300s"})");
  const std::string role_id(v.ok("GET", "auth/approle/role/kms/role-id").json.at("data").at("role_id").as_string());
  testkit::write_file(dir.file("secret-id"), "not-the-secret-id\n");
  auto p = create("key: k, auth: {method: approle, role_id: " + role_id + ", secret_id_file: " +
                  dir.file("secret-id") + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_TRUE(as_vault(**p).session_stats().failed);
  Error e = probe(**p);
  EXPECT_EQ(e.code(), Code::permission_denied) << e.message();
  EXPECT_NE(e.message().find("invalid role or secret ID"), std::string::npos) << e.message();
  EXPECT_TRUE(as_vault(**p).session_stats().failed);
}

TEST_F(VaultAuthTest, KubernetesLogsInWithTheServiceAccountToken) {
  auto& v = start_double(jwt_options());
  v.create_key("k");
  v.ok("POST", "sys/auth/kubernetes", R"({"type":"kubernetes"})");
  v.ok("POST", "auth/kubernetes/role/kms",
       R"({"bound_service_account_names":["trousseau"],"bound_service_account_namespaces":["kube-system"],"token_ttl":"300s"})");
  testkit::write_file(dir.file("sa-token"),
                      testkit::hs256_jwt(kJwtKey, R"({"sub":"system:serviceaccount:kube-system:trousseau",)"
                                                  R"("kubernetes.io":{"namespace":"kube-system",)"
                                                  R"("serviceaccount":{"name":"trousseau"}},"exp":)" +
                                                      exp_claim() + "}"),
                      0644);
  auto p = create("key: k, auth: {method: kubernetes, role: kms, jwt_file: " + dir.file("sa-token") + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  round_trip(**p);
}

TEST_F(VaultAuthTest, JwtLogsInWithATokenFileAtAConfiguredMount) {
  auto& v = start_double(jwt_options());
  v.create_key("k");
  v.ok("POST", "sys/auth/spiffe", R"({"type":"jwt"})");
  v.ok("POST", "auth/spiffe/role/kms",
       R"({"bound_audiences":["trousseau"],"user_claim":"sub","bound_subject":"spiffe://example.org/trousseau","token_ttl":"300s"})");
  testkit::write_file(dir.file("svid"),
                      testkit::hs256_jwt(kJwtKey, R"({"sub":"spiffe://example.org/trousseau","aud":"trousseau","exp":)" +
                                                      exp_claim() + "}"));
  auto p = create("key: k, auth: {method: jwt, mount: spiffe, role: kms, jwt_file: " + dir.file("svid") + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  round_trip(**p);
}

TEST_F(VaultAuthTest, CertAuthLogsInOverMutualTls) {
  const testkit::TestPki pki = testkit::make_test_pki(dir.file("pki"), {"IP:127.0.0.1", "DNS:vault.test"});
  const testkit::TestClientCert me = testkit::make_test_client_cert(dir.file("pki"), "trousseau");
  auto& v = start_double(mtls_options(pki));
  ASSERT_EQ(v.address().rfind("https://", 0), 0u);
  v.create_key("k");
  v.ok("POST", "sys/auth/cert", R"({"type":"cert"})");
  std::ifstream ca(pki.ca_cert);
  std::string ca_pem((std::istreambuf_iterator<char>(ca)), std::istreambuf_iterator<char>());
  v.ok("POST", "auth/cert/certs/kms", "{\"certificate\":" + json_string(ca_pem) + R"(,"token_ttl":"300s"})");
  const std::string tls = "ca_file: " + pki.ca_cert + ", client_cert: " + me.cert +
                          ", client_key: " + me.key;
  auto p = create("key: k, " + tls + ", auth: {method: cert, role: kms}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  round_trip(**p);

  // The name verified may differ from the address's host.
  auto named = create("key: k, server_name: vault.test, " + tls + ", auth: {method: cert}");
  ASSERT_TRUE(named.ok()) << named.error().message();
  EXPECT_TRUE(probe(**named).ok());
  auto wrong = create("key: k, server_name: other.test, " + tls + ", auth: {method: cert}");
  ASSERT_TRUE(wrong.ok()) << wrong.error().message();  // starts, unhealthy
  Error e = probe(**wrong);
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_NE(e.message().find("certificate verify failed"), std::string::npos) << e.message();
}

TEST_F(VaultAuthTest, ACertificateFromAnotherCaStartsUnhealthy) {
  const testkit::TestPki pki = testkit::make_test_pki(dir.file("pki"), {"IP:127.0.0.1"});
  const testkit::TestPki other = testkit::make_test_pki(dir.file("other"), {"IP:127.0.0.1"});
  const testkit::TestClientCert stranger = testkit::make_test_client_cert(dir.file("other"), "stranger");
  auto& v = start_double(mtls_options(pki));
  v.create_key("k");
  v.ok("POST", "sys/auth/cert", R"({"type":"cert"})");
  auto p = create("key: k, ca_file: " + pki.ca_cert + ", client_cert: " + stranger.cert +
                  ", client_key: " + stranger.key + ", auth: {method: cert}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_TRUE(as_vault(**p).session_stats().failed);
  EXPECT_FALSE(probe(**p).ok());
}

TEST_F(VaultAuthTest, ATokenFileIsReadAgainWhenItIsReplaced) {
  auto& v = start_double();
  v.create_key("k");
  const std::string first = v.create_token(0);
  auto p = create("key: k, auth: {method: token, token_file: " + token_file(first) + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  round_trip(**p);

  const std::string second = v.create_token(0);
  token_file(second);
  v.call("POST", "auth/token/revoke-self", "", first);
  // The watch notices the rename a moment later; calls meanwhile may still
  // send the revoked token (and fail). Wait for the state, not for time.
  EXPECT_TRUE(testkit::wait_until([&] { return probe(**p).ok(); }));
  // At least one more read: the watch may also report the temporary file.
  EXPECT_GE(as_vault(**p).session_stats().logins, 2u);
  round_trip(**p);
}

TEST_F(VaultAuthTest, ARefusedTokenMakesTheLoginMethodsLogInAgainOnce) {
  auto& v = start_double();
  v.create_key("k");
  v.ok("POST", "sys/auth/approle", R"({"type":"approle"})");
  v.ok("POST", "auth/approle/role/kms", R"({"token_ttl":"300s"})");
  const std::string role_id(v.ok("GET", "auth/approle/role/kms/role-id").json.at("data").at("role_id").as_string());
  const std::string secret_id(v.ok("POST", "auth/approle/role/kms/secret-id").json.at("data").at("secret_id").as_string());
  testkit::write_file(dir.file("secret-id"), secret_id);
  auto p = create("key: k, auth: {method: approle, role_id: " + role_id + ", secret_id_file: " +
                  dir.file("secret-id") + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  round_trip(**p);
  // Vault's clock passes the token's TTL; ours does not (no renewal ran).
  v.advance(std::chrono::seconds(301));
  round_trip(**p);  // 403, a new login, the call again
  EXPECT_EQ(as_vault(**p).session_stats().logins, 2u);
}

}  // namespace
}  // namespace trousseau::providers::vault
