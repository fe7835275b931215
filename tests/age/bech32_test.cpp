// Bech32 against BIP-173's own test vectors, and the recipient and
// identity strings built on it.
#include "age/bech32.hpp"

#include <gtest/gtest.h>

#include "age/trousseau_keys.hpp"

namespace trousseau::age {
namespace {

TEST(Bech32, AcceptsEveryValidStringOfBip173) {
  const std::string valid[] = {"A12UEL5L", "a12uel5l",
                        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
                        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
                        "11" + std::string(82, 'q') + "c8247j",
                        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl"};
  for (const std::string& s : valid) {
    Result<Bech32> b = bech32_decode(s);
    EXPECT_TRUE(b.ok()) << s << ": " << (b.ok() ? "" : b.error().message());
  }
}

TEST(Bech32, RefusesTheInvalidStringsOfBip173) {
  for (const char* s : {"\x20" "1nwldj5", "\x7f" "1axkwrx", "pzry9x0s0muk", "1pzry9x0s0muk",
                        "x1b4n0q5v", "li1dgmt3", "A1G7SGD8", "10a06t8", "1qzzfhee"}) {
    EXPECT_FALSE(bech32_decode(s).ok()) << s;
  }
}

TEST(Bech32, RoundTripsBytesAndRefusesMixedCaseAndAFlippedCharacter) {
  const std::string text = bech32_encode("age1trousseau", as_bytes("/run/trousseau/kms.sock"));
  Result<Bech32> back = bech32_decode(text);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->hrp, "age1trousseau");
  EXPECT_EQ(std::string(as_chars(back->data)), "/run/trousseau/kms.sock");
  std::string flipped = text;
  flipped[20] = flipped[20] == 'q' ? 'p' : 'q';
  EXPECT_FALSE(bech32_decode(flipped).ok());
  std::string mixed = text;
  mixed[0] = 'A';
  EXPECT_FALSE(bech32_decode(mixed).ok());
}

TEST(AgeStrings, RecipientAndIdentityNameTheSocketWithAgesPrefixes) {
  Result<std::string> r = recipient_for("/run/trousseau/kms.sock");
  Result<std::string> id = identity_for("/run/trousseau/kms.sock");
  ASSERT_TRUE(r.ok() && id.ok());
  EXPECT_EQ(r->rfind("age1trousseau1", 0), 0u) << *r;
  EXPECT_EQ(id->rfind("AGE-PLUGIN-TROUSSEAU-1", 0), 0u) << *id;
  EXPECT_EQ(socket_of_recipient(*r).value(), "/run/trousseau/kms.sock");
  EXPECT_EQ(socket_of_identity(*id).value(), "/run/trousseau/kms.sock");
}

TEST(AgeStrings, ARelativeSocketOrAnotherPluginsStringIsRefused) {
  EXPECT_FALSE(recipient_for("kms.sock").ok());
  EXPECT_FALSE(socket_of_recipient(identity_for("/a.sock").value()).ok());
  EXPECT_FALSE(socket_of_identity(recipient_for("/a.sock").value()).ok());
  EXPECT_FALSE(socket_of_recipient(bech32_encode("age1yubikey", as_bytes("/a.sock"))).ok());
  EXPECT_FALSE(socket_of_recipient(bech32_encode("age1trousseau", as_bytes("a.sock"))).ok());
}

}  // namespace
}  // namespace trousseau::age
