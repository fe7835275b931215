// CRC32C known answers, the Cloud KMS JSON messages with their integrity
// checks, google.rpc.Status mapping, and version names: no I/O.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <numeric>

#include "providers/gcpkms/crc32c.hpp"
#include "providers/gcpkms/gcpkms_provider.hpp"
#include "providers/gcpkms/kms_messages.hpp"

namespace trousseau::providers::gcpkms {
namespace {

Bytes repeated(std::uint8_t b, std::size_t n) { return Bytes(n, b); }

/// Bit by bit, straight from the definition (reflected 0x82F63B78): an
/// implementation independent of Boost.CRC's tables.
std::uint32_t reference_crc32c(ByteView data) {
  std::uint32_t crc = 0xffffffffu;
  for (std::uint8_t byte : data) {
    crc ^= byte;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(Crc32c, MatchesTheKnownAnswersOfRfc3720) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xe3069283u);  // the check value of CRC-32C
  EXPECT_EQ(crc32c(ByteView()), 0u);
  // RFC 3720 appendix B.4.
  EXPECT_EQ(crc32c(repeated(0x00, 32)), 0x8a9136aau);
  EXPECT_EQ(crc32c(repeated(0xff, 32)), 0x62a8ab43u);
  Bytes up(32), down(32);
  std::iota(up.begin(), up.end(), std::uint8_t{0});
  for (std::size_t i = 0; i < 32; ++i) down[i] = static_cast<std::uint8_t>(31 - i);
  EXPECT_EQ(crc32c(up), 0x46dd794eu);
  EXPECT_EQ(crc32c(down), 0x113fdb5cu);
  const Bytes iscsi_read{0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                         0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                         0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                         0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc32c(iscsi_read), 0xd9963a56u);
}

TEST(Crc32c, AgreesWithABitwiseReferenceOnEveryLength) {
  Bytes data(300);
  random_fill(data);
  for (std::size_t n = 0; n <= data.size(); ++n) {
    const ByteView part(data.data(), n);
    ASSERT_EQ(crc32c(part), reference_crc32c(part)) << n;
  }
}

boost::json::object parsed(const std::string& body) { return boost::json::parse(body).as_object(); }

std::string crc_text(ByteView data) { return std::to_string(crc32c(data)); }

TEST(KmsMessages, RequestsCarryTheirDataAndEveryChecksumAsStrings) {
  const Bytes plain = to_bytes("share-bytes"), aad = to_bytes("context");
  auto e = parsed(encrypt_request(plain, aad));
  EXPECT_EQ(e.at("plaintext").as_string(), base64_encode(plain));
  EXPECT_EQ(e.at("plaintextCrc32c").as_string(), crc_text(plain));  // int64: a JSON string
  EXPECT_EQ(e.at("additionalAuthenticatedData").as_string(), base64_encode(aad));
  EXPECT_EQ(e.at("additionalAuthenticatedDataCrc32c").as_string(), crc_text(aad));
  const Bytes ct = to_bytes("ciphertext");
  auto d = parsed(decrypt_request(ct, aad));
  EXPECT_EQ(d.at("ciphertext").as_string(), base64_encode(ct));
  EXPECT_EQ(d.at("ciphertextCrc32c").as_string(), crc_text(ct));
  EXPECT_EQ(d.at("additionalAuthenticatedDataCrc32c").as_string(), crc_text(aad));
}

std::string encrypt_answer(const Bytes& ct, const std::string& crc, const std::string& verified_plain = "true",
                           const std::string& verified_aad = "true") {
  return R"({"name":"projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2","ciphertext":")" +
         base64_encode(ct) + R"(","ciphertextCrc32c":)" + crc + R"(,"verifiedPlaintextCrc32c":)" + verified_plain +
         R"(,"verifiedAdditionalAuthenticatedDataCrc32c":)" + verified_aad + R"(,"protectionLevel":"SOFTWARE"})";
}

TEST(KmsMessages, AnEncryptAnswerIsUsedOnlyWhenEveryChecksumHolds) {
  const Bytes ct = to_bytes("opaque ciphertext");
  const std::string good_crc = "\"" + crc_text(ct) + "\"";
  bool corrupt = true;
  Result<EncryptAnswer> ok = parse_encrypt_response(encrypt_answer(ct, good_crc), corrupt);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_FALSE(corrupt);
  EXPECT_EQ(ok->ciphertext, ct);
  EXPECT_EQ(ok->name, "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2");
  EXPECT_TRUE(parse_encrypt_response(encrypt_answer(ct, crc_text(ct)), corrupt).ok());  // a number, too

  Bytes flipped = ct;
  flipped[3] ^= 1;
  const std::vector<std::pair<std::string, std::string>> lies = {
      {encrypt_answer(ct, good_crc, "false"), "verifiedPlaintextCrc32c"},
      {encrypt_answer(ct, good_crc, "true", "false"), "verifiedAdditionalAuthenticatedDataCrc32c"},
      {encrypt_answer(ct, good_crc, "\"true\""), "verifiedPlaintextCrc32c"},
      {encrypt_answer(ct, "\"" + std::to_string(crc32c(ct) ^ 1) + "\""), "ciphertextCrc32c"},
      {encrypt_answer(flipped, good_crc), "ciphertextCrc32c"},
      {encrypt_answer(ct, "null"), "ciphertextCrc32c"},
      {encrypt_answer(ct, "\"-1\""), "ciphertextCrc32c"},
  };
  for (const auto& [body, field] : lies) {
    corrupt = false;
    Result<EncryptAnswer> r = parse_encrypt_response(body, corrupt);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_TRUE(corrupt) << body;
    EXPECT_EQ(r.error().code(), Code::unavailable);
    EXPECT_NE(r.error().message().find(field), std::string::npos) << r.error().message();
  }
  corrupt = true;
  EXPECT_FALSE(parse_encrypt_response("{}", corrupt).ok());
  EXPECT_FALSE(corrupt);  // malformed, not corrupted: nothing to retry
}

TEST(KmsMessages, ADecryptAnswerWhosePlaintextFailsItsChecksumIsNeverUsed) {
  const Bytes plain = to_bytes("the share");
  std::string body = R"({"plaintext":")" + base64_encode(plain) + R"(","plaintextCrc32c":")" + crc_text(plain) +
                     R"(","usedPrimary":true})";
  bool corrupt = true;
  Result<SecretBytes> ok = parse_decrypt_response(body, corrupt);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_TRUE(ok->equals(plain));
  EXPECT_FALSE(corrupt);
  EXPECT_TRUE(body.empty());  // wiped: it held the plaintext

  for (std::string lie : {R"({"plaintext":")" + base64_encode(plain) + R"(","plaintextCrc32c":")" +
                              std::to_string(crc32c(plain) + 1) + "\"}",
                          R"({"plaintext":")" + base64_encode(to_bytes("the shard")) + R"(","plaintextCrc32c":")" +
                              crc_text(plain) + "\"}",
                          R"({"plaintext":")" + base64_encode(plain) + "\"}"}) {
    corrupt = false;
    Result<SecretBytes> r = parse_decrypt_response(lie, corrupt);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(corrupt);
    EXPECT_EQ(r.error().code(), Code::unavailable);
    EXPECT_NE(r.error().message().find("plaintextCrc32c"), std::string::npos) << r.error().message();
  }
}

TEST(KmsMessages, ACryptoKeyNamesItsPurposeAndPrimary) {
  Result<CryptoKeyInfo> k = parse_crypto_key(
      R"({"name":"projects/p/locations/l/keyRings/r/cryptoKeys/k","purpose":"ENCRYPT_DECRYPT",)"
      R"("primary":{"name":"projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/7","state":"ENABLED"}})");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->purpose, "ENCRYPT_DECRYPT");
  EXPECT_EQ(k->primary, "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/7");
  EXPECT_EQ(k->primary_state, "ENABLED");
  Result<CryptoKeyInfo> asymmetric = parse_crypto_key(
      R"({"name":"projects/p/locations/l/keyRings/r/cryptoKeys/k","purpose":"ASYMMETRIC_DECRYPT"})");
  ASSERT_TRUE(asymmetric.ok());
  EXPECT_TRUE(asymmetric->primary.empty());
  EXPECT_FALSE(parse_crypto_key("[]").ok());
}

http::Response answer(unsigned status, const std::string& code) {
  http::Response r;
  r.status = status;
  r.body = R"({"error":{"code":)" + std::to_string(status) + R"(,"message":"because","status":")" + code + R"("}})";
  return r;
}

TEST(KmsMessages, GoogleStatusesMapToWhatTheyMeanForTheEngine) {
  EXPECT_EQ(map_kms_error("encrypt", answer(403, "PERMISSION_DENIED"), false).code(), Code::permission_denied);
  EXPECT_EQ(map_kms_error("encrypt", answer(401, "UNAUTHENTICATED"), false).code(), Code::permission_denied);
  EXPECT_EQ(map_kms_error("decrypt", answer(404, "NOT_FOUND"), true).code(), Code::failed_precondition);
  EXPECT_EQ(map_kms_error("decrypt", answer(400, "INVALID_ARGUMENT"), true).code(), Code::integrity);
  EXPECT_EQ(map_kms_error("encrypt", answer(400, "INVALID_ARGUMENT"), false).code(), Code::invalid_argument);
  EXPECT_EQ(map_kms_error("encrypt", answer(400, "FAILED_PRECONDITION"), false).code(), Code::failed_precondition);
  EXPECT_EQ(map_kms_error("decrypt", answer(400, "FAILED_PRECONDITION"), true).code(), Code::failed_precondition);
  EXPECT_EQ(map_kms_error("encrypt", answer(429, "RESOURCE_EXHAUSTED"), false).code(), Code::unavailable);
  EXPECT_EQ(map_kms_error("encrypt", answer(503, "UNAVAILABLE"), false).code(), Code::unavailable);
  const Error e = map_kms_error("decrypt", answer(400, "INVALID_ARGUMENT"), true);
  EXPECT_EQ(e.message(), "decrypt: HTTP 400 \"INVALID_ARGUMENT\": \"because\"");
  http::Response html;
  html.status = 502;
  html.body = "<html>bad gateway</html>";
  EXPECT_EQ(map_kms_error("get key", html, false).message(), "get key: HTTP 502");
}

TEST(VersionNames, OnlyAVersionOfAWellFormedKeyHasACryptoKey) {
  const std::string key = "projects/p/locations/l/keyRings/r/cryptoKeys/k";
  EXPECT_EQ(crypto_key_of_version(key + "/cryptoKeyVersions/1"), key);
  EXPECT_EQ(crypto_key_of_version(key + "/cryptoKeyVersions/12345"), key);
  for (const std::string& bad : std::vector<std::string>{key, key + "/cryptoKeyVersions/", key + "/cryptoKeyVersions/01",
                                key + "/cryptoKeyVersions/1a", key + "/cryptoKeyVersions/-1",
                                key + "/cryptoKeyVersions/1/", "cryptoKeyVersions/1",
                                "projects/p/cryptoKeys/k/cryptoKeyVersions/1", std::string()}) {
    EXPECT_FALSE(crypto_key_of_version(bad)) << bad;
  }
}

TEST(VersionNames, TheAdditionalDataIsTheLabelAndTheContext) {
  const Bytes aad = share_aad(to_bytes("ctx"));
  EXPECT_EQ(std::string(as_chars(aad)), std::string("trousseau.io/gcpkms/v1\0ctx", 26));
}

}  // namespace
}  // namespace trousseau::providers::gcpkms
