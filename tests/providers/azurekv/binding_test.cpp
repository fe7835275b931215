// The parts of the azurekv provider that need no vault: how a share is bound
// to its context, the REST messages, and the client assertion.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "providers/azurekv/azurekv_provider.hpp"
#include "providers/azurekv/jwt.hpp"
#include "providers/azurekv/kv_messages.hpp"
#include "providers/azurekv/share_binding.hpp"
#include "support/command.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

namespace trousseau::providers::azurekv {
namespace {

const Bytes kContext = to_bytes("slot-1 context");
const Bytes kOther = to_bytes("slot-2 context");

TEST(ShareBinding, SealedShareOpensOnlyUnderItsContextAndAlgorithm) {
  SecretBytes key = SecretBytes::random(32);
  SecretBytes share = SecretBytes::random(33);
  Result<Bytes> sealed = seal_share(key.view(), Algorithm::a256kw, kContext, share.view());
  ASSERT_TRUE(sealed.ok());
  Result<SecretBytes> back = open_share(key.view(), Algorithm::a256kw, kContext, *sealed);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->equals(share.view()));
  EXPECT_EQ(open_share(key.view(), Algorithm::a256kw, kOther, *sealed).error().code(), Code::integrity);
  EXPECT_EQ(open_share(key.view(), Algorithm::a256gcm, kContext, *sealed).error().code(), Code::integrity);
  Bytes flipped = *sealed;
  flipped[20] ^= 1;
  EXPECT_EQ(open_share(key.view(), Algorithm::a256kw, kContext, flipped).error().code(), Code::integrity);
}

TEST(ShareBinding, LayoutSplitsAndRefusesWhatItDoesNotKnow) {
  const Bytes remote(256, 7), sealed(12 + 33 + 16, 9);
  const Bytes joined = join_wrapped(Algorithm::rsa_oaep_256, remote, sealed);
  EXPECT_EQ(joined.size(), 4 + remote.size() + sealed.size());
  Result<WrappedParts> p = parse_wrapped(joined);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->algorithm, Algorithm::rsa_oaep_256);
  EXPECT_EQ(Bytes(p->remote.begin(), p->remote.end()), remote);
  EXPECT_EQ(Bytes(p->sealed.begin(), p->sealed.end()), sealed);
  for (std::size_t at : {0u, 1u, 2u}) {
    Bytes bad = joined;
    bad[at] ^= 0x40;
    EXPECT_EQ(parse_wrapped(bad).error().code(), Code::integrity) << at;
  }
  EXPECT_EQ(parse_wrapped(Bytes(joined.begin(), joined.end() - 40)).error().code(), Code::integrity);
  EXPECT_EQ(parse_wrapped(Bytes{}).error().code(), Code::integrity);
}

TEST(ShareBinding, AlgorithmsUseTheirKeyOperations) {
  EXPECT_EQ(wrap_operation(Algorithm::rsa_oaep_256), "wrapKey");
  EXPECT_EQ(unwrap_operation(Algorithm::a256kw), "unwrapKey");
  EXPECT_EQ(wrap_operation(Algorithm::a256gcm), "encrypt");
  EXPECT_EQ(algorithm_from_name("A256GCM"), Algorithm::a256gcm);
  EXPECT_FALSE(algorithm_from_name("RSA1_5").has_value());
}

TEST(KvMessages, Base64UrlRoundTripsWithoutPadding) {
  const Bytes data{0xfb, 0xff, 0xfe, 0x00, 0x01};
  const std::string text = base64url_encode(data);
  EXPECT_EQ(text, "-__-AAE");
  Bytes back;
  ASSERT_TRUE(base64url_decode(text, back));
  EXPECT_EQ(back, data);
  EXPECT_FALSE(base64url_decode("+//+AAE", back));  // standard alphabet
  EXPECT_FALSE(base64url_decode("a", back));
}

TEST(KvMessages, KidsOfTheVaultOnly) {
  const http::Url vault = http::Url::parse("https://kv1.vault.azure.net").value();
  auto k = parse_kid("https://kv1.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef", vault);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->name, "kek");
  EXPECT_EQ(k->version, "0123456789abcdef0123456789abcdef");
  const std::string v = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(parse_kid("https://KV1.vault.azure.net/keys/kek/" + v, vault).has_value());
  for (const std::string& bad :
       {"https://kv2.vault.azure.net/keys/kek/" + v, std::string("https://kv1.vault.azure.net/keys/kek"),
        std::string("https://kv1.vault.azure.net/keys/kek/"), "https://kv1.vault.azure.net/keys/kek/" + v + "/b",
        "https://kv1.vault.azure.net/keys/kek/" + v + "0", "https://kv1.vault.azure.net/keys/kek/" + v.substr(1) + "G",
        "https://kv1.vault.azure.net:444/keys/kek/" + v, "http://kv1.vault.azure.net/keys/kek/" + v,
        "https://kv1.vault.azure.net/secrets/kek/" + v, "https://kv1.vault.azure.net/keys/k_k/" + v,
        "kek/" + v, std::string()}) {
    EXPECT_FALSE(parse_kid(bad, vault).has_value()) << bad;
  }
}

TEST(KvMessages, ErrorsMapByStatusAndOperation) {
  http::Response r;
  r.body = R"({"error":{"code":"Forbidden","message":"Operation unwrapKey is not allowed on a disabled key.","innerError":{"code":"KeyDisabled"}}})";
  r.status = 403;
  Error e = map_kv_error("unwrapkey", r, true);
  EXPECT_EQ(e.code(), Code::permission_denied);
  EXPECT_NE(e.message().find("KeyDisabled"), std::string::npos) << e.message();
  r.status = 401;
  EXPECT_EQ(map_kv_error("wrapkey", r, false).code(), Code::permission_denied);
  r.status = 400;
  r.body = R"({"error":{"code":"BadParameter","message":"Decryption failed."}})";
  EXPECT_EQ(map_kv_error("unwrapkey", r, true).code(), Code::integrity);
  EXPECT_EQ(map_kv_error("wrapkey", r, false).code(), Code::invalid_argument);
  r.status = 404;
  EXPECT_EQ(map_kv_error("get key", r, false).code(), Code::failed_precondition);
  EXPECT_EQ(map_kv_error("unwrapkey", r, true).code(), Code::invalid_argument);
  for (unsigned s : {429u, 500u, 503u}) {
    r.status = s;
    EXPECT_EQ(map_kv_error("wrapkey", r, false).code(), Code::unavailable) << s;
  }
  r.body = "not json";
  EXPECT_EQ(map_kv_error("wrapkey", r, false).code(), Code::unavailable);
}

TEST(KvMessages, ChallengeNamesItsResource) {
  http::Response r;
  r.status = 401;
  r.headers = {{"WWW-Authenticate",
                R"(Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net")"}};
  EXPECT_EQ(challenge_resource(r), "https://vault.azure.net");
  r.headers = {{"www-authenticate", R"(Bearer authorization="https://login/t", scope="https://managedhsm.azure.net/.default")"}};
  EXPECT_EQ(challenge_resource(r), "https://managedhsm.azure.net");
  r.headers.clear();
  EXPECT_EQ(challenge_resource(r), "");
}

TEST(KvMessages, KeyBundleReadsVersionTypeAndOperations) {
  const std::string body = R"({"key":{"kid":"https://kv1.vault.azure.net/keys/k/v1","kty":"RSA-HSM",
      "key_ops":["wrapKey","unwrapKey"]},"attributes":{"enabled":false}})";
  Result<KeyBundle> b = parse_key_bundle(body, "wrapKey", "unwrapKey");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kid, "https://kv1.vault.azure.net/keys/k/v1");
  EXPECT_EQ(b->kty, "RSA-HSM");
  EXPECT_FALSE(b->enabled);
  EXPECT_TRUE(b->can_wrap && b->can_unwrap);
  Result<KeyBundle> gcm = parse_key_bundle(body, "encrypt", "decrypt");
  ASSERT_TRUE(gcm.ok());
  EXPECT_FALSE(gcm->can_wrap);
  EXPECT_FALSE(parse_key_bundle("{}", "wrapKey", "unwrapKey").ok());
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A self-signed RSA certificate and its key, as an app registration's.
std::pair<std::string, std::string> rsa_certificate(const testkit::TempDir& dir) {
  testkit::CommandResult r = testkit::run_command(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=trousseau-client",
       "-days", "1", "-keyout", dir.file("key.pem"), "-out", dir.file("cert.pem")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return {slurp(dir.file("cert.pem")), slurp(dir.file("key.pem"))};
}

TEST(ClientAssertion, IsAnRs256JwtWithTheCertificatesThumbprintAndVerifies) {
  testkit::TempDir dir;
  const auto [cert, key] = rsa_certificate(dir);
  const std::string pem = key + cert;  // either order
  const auto now = std::chrono::system_clock::from_time_t(1700000000);
  Result<std::string> jwt = client_assertion(as_bytes(pem), "client-1", "https://login/t/oauth2/v2.0/token", now);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message();
  const auto d1 = jwt->find('.'), d2 = jwt->rfind('.');
  ASSERT_NE(d1, d2);
  Bytes header, claims, sig;
  ASSERT_TRUE(base64url_decode(jwt->substr(0, d1), header));
  ASSERT_TRUE(base64url_decode(jwt->substr(d1 + 1, d2 - d1 - 1), claims));
  ASSERT_TRUE(base64url_decode(jwt->substr(d2 + 1), sig));
  auto h = boost::json::parse(as_chars(header));
  auto c = boost::json::parse(as_chars(claims));
  EXPECT_EQ(h.at("alg").as_string(), "RS256");
  EXPECT_EQ(c.at("aud").as_string(), "https://login/t/oauth2/v2.0/token");
  EXPECT_EQ(c.at("iss").as_string(), "client-1");
  EXPECT_EQ(c.at("sub").as_string(), "client-1");
  EXPECT_EQ(c.at("exp").to_number<std::int64_t>(), 1700000600);

  // x5t: SHA-1 of the certificate's DER; the signature verifies under its key.
  BIO* bio = BIO_new_mem_buf(cert.data(), static_cast<int>(cert.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  ASSERT_NE(x, nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  unsigned char sha1[20];
  unsigned int n = 0;
  EVP_Digest(der, static_cast<std::size_t>(len), sha1, &n, EVP_sha1(), nullptr);
  OPENSSL_free(der);
  EXPECT_EQ(h.at("x5t").as_string(), base64url_encode(ByteView(sha1, n)));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const std::string input = jwt->substr(0, d2);
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, X509_get0_pubkey(x)), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, sig.data(), sig.size(), as_bytes(input).data(), input.size()), 1);
  EVP_MD_CTX_free(ctx);
  X509_free(x);
  BIO_free(bio);
}

TEST(ClientAssertion, RefusesAFileWithoutAMatchingRsaKey) {
  testkit::TempDir dir;
  const auto [cert, key] = rsa_certificate(dir);
  testkit::TempDir other;
  const auto [cert2, key2] = rsa_certificate(other);
  testkit::TestPki ec = testkit::make_test_pki(dir.path().string(), {"DNS:client"});  // P-256
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(client_assertion(as_bytes(cert), "c", "a", now).error().code(), Code::failed_precondition);
  EXPECT_EQ(client_assertion(as_bytes(cert + key2), "c", "a", now).error().code(), Code::failed_precondition);
  EXPECT_EQ(client_assertion(as_bytes(slurp(ec.server_cert) + slurp(ec.server_key)), "c", "a", now).error().code(),
            Code::failed_precondition);
  EXPECT_TRUE(client_assertion(as_bytes(cert + key), "c", "a", now).ok());
}

}  // namespace
}  // namespace trousseau::providers::azurekv
