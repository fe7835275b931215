#include "common/bytes.hpp"

#include <gtest/gtest.h>

namespace trousseau {
namespace {

TEST(Base64, DecodesTheCanonicalForm) {
  Bytes out;
  ASSERT_TRUE(base64_decode("QUJD", out));
  EXPECT_EQ(out, to_bytes("ABC"));
  ASSERT_TRUE(base64_decode("QQ==", out));
  EXPECT_EQ(out, to_bytes("A"));
  ASSERT_TRUE(base64_decode("", out));
  EXPECT_TRUE(out.empty());
}

TEST(Base64, RefusesWhatIsNotCanonical) {
  Bytes out;
  EXPECT_FALSE(base64_decode("QR==", out));   // bits past the end
  EXPECT_FALSE(base64_decode("QQ", out));     // no padding
  EXPECT_FALSE(base64_decode("QUJD\n", out)); // whitespace
  EXPECT_FALSE(base64_decode("QU-D", out));   // the URL alphabet
}

// libsodium 1.0.18 reads 0x80 and above as letters: "z09\xa0" decoded
// like "z09/" (tests/fuzz/corpus/legacy/regression_high_byte_in_base64).
TEST(Base64, RefusesBytesOutsideTheAlphabet) {
  Bytes out;
  EXPECT_FALSE(base64_decode("z09\xa0", out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(base64_decode("\xa0\xa0\xa0\xa0", out));
  EXPECT_FALSE(base64_decode(std::string_view("QUJ\0", 4), out));
  for (int c = 0x80; c <= 0xFF; ++c) {
    const std::string text = "QUJ" + std::string(1, static_cast<char>(c));
    EXPECT_FALSE(base64_decode(text, out)) << c;
  }
}

}  // namespace
}  // namespace trousseau
