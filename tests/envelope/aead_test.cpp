#include "envelope/aead.hpp"

#include <gtest/gtest.h>

namespace trousseau::aead {
namespace {

Bytes unhex(std::string_view h) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// AES-256-GCM test case 16 of the GCM specification (McGrew & Viega), with AAD.
TEST(Aead, MatchesGcmSpecificationTestCase16) {
  Bytes key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  Bytes iv = unhex("cafebabefacedbaddecaf888");
  Bytes pt = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  Bytes aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  Bytes expected = unhex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  auto sealed = seal(key, iv, aad, pt);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*sealed, expected);
  auto opened = open(key, iv, aad, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->equals(pt));
}

TEST(Aead, TamperedCiphertextAadOrKeyFailsIntegrity) {
  SecretBytes key = SecretBytes::random(32);
  Bytes nonce(12, 7);
  Bytes aad = to_bytes("header");
  Bytes pt = to_bytes("a secret seed of thirty-two byte");
  auto sealed = seal(key.view(), nonce, aad, pt);
  ASSERT_TRUE(sealed.ok());
  for (std::size_t i = 0; i < sealed->size(); ++i) {
    Bytes bad = *sealed;
    bad[i] ^= 0x01;
    EXPECT_EQ(open(key.view(), nonce, aad, bad).error().code(), Code::integrity) << i;
  }
  EXPECT_EQ(open(key.view(), nonce, to_bytes("headeR"), *sealed).error().code(), Code::integrity);
  SecretBytes other = SecretBytes::random(32);
  EXPECT_EQ(open(other.view(), nonce, aad, *sealed).error().code(), Code::integrity);
  Bytes truncated(sealed->begin(), sealed->end() - 1);
  EXPECT_EQ(open(key.view(), nonce, aad, truncated).error().code(), Code::integrity);
}

}  // namespace
}  // namespace trousseau::aead
