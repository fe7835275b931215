// The original Trousseau's ciphertexts: recognised, parsed strictly, and
// never confused with our envelope.
#include "envelope/legacy.hpp"

#include <gtest/gtest.h>

#include "envelope/format.hpp"

namespace trousseau::envelope {
namespace {

ByteView bytes(std::string_view s) { return as_bytes(s); }

TEST(LegacyFormat, VaultTextIsTrousseauV1) {
  const std::string text = "vault:v3:" + base64_encode(as_bytes(std::string_view("sealed-by-vault")));
  EXPECT_TRUE(looks_legacy(bytes(text)));
  auto parsed = parse_legacy(bytes(text));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->format, LegacyFormat::trousseau_v1);
  ASSERT_EQ(parsed->parts.size(), 1u);
  EXPECT_EQ(parsed->parts[0].origin, "vault");
  EXPECT_EQ(as_chars(parsed->parts[0].ciphertext), text);  // Vault gets its own text back
  EXPECT_EQ(vault_ciphertext_version(text), 3u);
}

TEST(LegacyFormat, V2AlphaLinesDecodeEachProvidersCiphertext) {
  const std::string vault = "vault:v1:" + base64_encode(as_bytes(std::string_view("v")));
  const Bytes blob = {0x01, 0x02, 0x00, 0xff};
  const std::string text = "awskms:-:" + base64_encode(blob) + "\nvault:-:" +
                           base64_encode(as_bytes(vault)) + "\n";
  EXPECT_TRUE(looks_legacy(bytes(text)));
  auto parsed = parse_legacy(bytes(text));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->format, LegacyFormat::v2_alpha);
  ASSERT_EQ(parsed->parts.size(), 2u);
  EXPECT_EQ(parsed->parts[0].origin, "awskms");
  EXPECT_EQ(parsed->parts[0].ciphertext, blob);
  EXPECT_EQ(parsed->parts[1].origin, "vault");
  EXPECT_EQ(as_chars(parsed->parts[1].ciphertext), vault);
}

TEST(LegacyFormat, OurEnvelopeIsNeverLegacy) {
  Bytes env(kMagic.begin(), kMagic.end());
  env.resize(64, 'a');
  EXPECT_FALSE(looks_legacy(env));
  EXPECT_FALSE(looks_legacy(bytes("")));
  EXPECT_FALSE(looks_legacy(bytes("k8s:enc:kms:v2:")));
}

TEST(LegacyFormat, MalformedInputIsRefusedWithoutEchoingIt) {
  const std::string secretish = "c2VjcmV0LXZhbHVl";
  for (const std::string& bad : {
           std::string("vault:v0:") + secretish,               // version 0
           std::string("vault:vx:") + secretish,               // not a number
           std::string("vault:v1:") + "not base64!",           // body
           std::string("vault:v1:"),                           // empty body
           std::string("awskms:-:") + "%%%\n",                 // base64
           std::string("awskms:-:\n"),                         // empty ciphertext
           std::string("awskms:-:") + secretish + "\n\nvault:-:x\n",  // empty line inside
           std::string("AWS:-:") + secretish + "\n",           // provider name
           std::string("awskms:-:") + secretish + "\nawskms:-:" + secretish + "\n",  // twice
           std::string("vault:-:") + secretish + "\n",         // not vault text inside
           std::string("awskms:-:") + secretish + "\nno separator\n",
       }) {
    auto parsed = parse_legacy(bytes(bad));
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code(), Code::invalid_argument) << bad;
    EXPECT_EQ(parsed.error().message().find(secretish), std::string::npos) << parsed.error().message();
  }
}

TEST(LegacyFormat, UnknownOriginsAreKeptForTheEngineToName) {
  const std::string text = "azurekms:-:" + base64_encode(as_bytes(std::string_view("x"))) + "\n";
  auto parsed = parse_legacy(bytes(text));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->parts[0].origin, "azurekms");
}

}  // namespace
}  // namespace trousseau::envelope
