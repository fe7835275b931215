// The TTLV codec: the spec's own encodings, round trips of every type, and
// one rejection per rule the strict decoder enforces.
#include "providers/kmip/ttlv.hpp"

#include <gtest/gtest.h>

#include <string>

namespace trousseau::providers::kmip {
namespace {

constexpr std::uint32_t kTag = 0x420020;  // the tag of the spec's examples

Bytes from_hex(std::string_view hex) {
  Bytes out;
  std::string digits;
  for (char c : hex) {
    if (c != ' ' && c != '|') digits += c;
  }
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes written(void (*write)(Writer&)) {
  Bytes out;
  Writer w(out);
  write(w);
  return out;
}

Item decoded(const Bytes& message) {
  Result<Item> item = decode(message);
  EXPECT_TRUE(item.ok()) << item.error().message();
  return std::move(item).value();
}

// Expects decode() to refuse `message` with a message naming `what`.
void expect_malformed(const Bytes& message, std::string_view what, const Limits& limits = {}) {
  Result<Item> item = decode(message, limits);
  ASSERT_FALSE(item.ok()) << "accepted, expected: " << what;
  EXPECT_EQ(item.error().code(), Code::unavailable);
  EXPECT_EQ(item.error().message().rfind("KMIP: malformed response: ", 0), 0u) << item.error().message();
  EXPECT_NE(item.error().message().find(what), std::string::npos) << item.error().message();
}

// KMIP 1.4 section 9.1.2, "Examples": each type's encoding with tag 0x420020.

TEST(TtlvSpecExamples, IntegerEightEncodesAsTheSpecShows) {
  const Bytes hex = from_hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00");
  EXPECT_EQ(written([](Writer& w) { w.integer(kTag, 8); }), hex);
  EXPECT_EQ(decoded(hex).integer(), 8);
}

TEST(TtlvSpecExamples, LongIntegerEncodesAsTheSpecShows) {
  const Bytes hex = from_hex("42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00");
  EXPECT_EQ(written([](Writer& w) { w.long_integer(kTag, 123456789000000000); }), hex);
  EXPECT_EQ(decoded(hex).long_integer(), 123456789000000000);
}

TEST(TtlvSpecExamples, BigIntegerEncodesAsTheSpecShows) {
  // 1234567890000000000000000000, sign-extended to 16 bytes.
  const Bytes hex = from_hex(
      "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00");
  const Bytes value = from_hex("00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00");
  Bytes out;
  Writer(out).big_integer(kTag, value);
  EXPECT_EQ(out, hex);
  const Item item = decoded(hex);
  ASSERT_TRUE(item.big_integer());
  EXPECT_EQ(Bytes(item.big_integer()->begin(), item.big_integer()->end()), value);
}

TEST(TtlvSpecExamples, EnumerationEncodesAsTheSpecShows) {
  const Bytes hex = from_hex("42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00");
  EXPECT_EQ(written([](Writer& w) { w.enumeration(kTag, 255); }), hex);
  EXPECT_EQ(decoded(hex).enumeration(), 255u);
}

TEST(TtlvSpecExamples, BooleanTrueEncodesAsTheSpecShows) {
  const Bytes hex = from_hex("42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01");
  EXPECT_EQ(written([](Writer& w) { w.boolean(kTag, true); }), hex);
  EXPECT_EQ(decoded(hex).boolean(), true);
}

TEST(TtlvSpecExamples, TextStringEncodesAsTheSpecShows) {
  const Bytes hex = from_hex(
      "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00");
  EXPECT_EQ(written([](Writer& w) { w.text(kTag, "Hello World"); }), hex);
  EXPECT_EQ(decoded(hex).text(), "Hello World");
}

TEST(TtlvSpecExamples, ByteStringEncodesAsTheSpecShows) {
  const Bytes hex = from_hex("42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00");
  EXPECT_EQ(written([](Writer& w) { w.bytes(kTag, from_hex("010203")); }), hex);
  const Item item = decoded(hex);
  ASSERT_TRUE(item.bytes());
  EXPECT_EQ(Bytes(item.bytes()->begin(), item.bytes()->end()), from_hex("010203"));
}

TEST(TtlvSpecExamples, DateTimeEncodesAsTheSpecShows) {
  // Friday, March 14, 2008, 11:56:40 GMT.
  const Bytes hex = from_hex("42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8");
  EXPECT_EQ(written([](Writer& w) { w.date_time(kTag, 1205495800); }), hex);
  EXPECT_EQ(decoded(hex).date_time(), 1205495800);
}

TEST(TtlvSpecExamples, IntervalOfTenDaysEncodesAsTheSpecShows) {
  const Bytes hex = from_hex("42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00");
  EXPECT_EQ(written([](Writer& w) { w.interval(kTag, 864000); }), hex);
  EXPECT_EQ(decoded(hex).interval(), 864000u);
}

TEST(TtlvSpecExamples, StructureEncodesAsTheSpecShows) {
  const Bytes hex = from_hex(
      "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 |"
      " 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00");
  EXPECT_EQ(written([](Writer& w) {
              w.begin(kTag);
              w.enumeration(0x420004, 254);
              w.integer(0x420005, 255);
              w.end();
            }),
            hex);
  const Item item = decoded(hex);
  ASSERT_EQ(item.children().size(), 2u);
  EXPECT_EQ(item.find(0x420004)->enumeration(), 254u);
  EXPECT_EQ(item.find(0x420005)->integer(), 255);
}

// Round trips.

TEST(TtlvRoundTrip, EveryTypeDecodesToWhatWasWritten) {
  const Bytes big = from_hex("FF FF FF FF FF FF FF FE");
  Bytes out;
  Writer w(out);
  w.begin(0x420078);
  w.integer(0x420001, -5);
  w.long_integer(0x420002, -1234567890123LL);
  w.big_integer(0x420003, big);
  w.enumeration(0x420004, 0xFFFFFFFFu);
  w.boolean(0x420005, false);
  w.text(0x420006, "h\xC3\xA9llo \xF0\x9F\x94\x91");
  w.bytes(0x420007, from_hex("00 01 02 03 04 05 06 07 08"));
  w.date_time(0x420008, -1);
  w.interval(0x420009, 0xFFFFFFFFu);
  w.date_time_extended(0x42000A, 1205495800123456LL);
  w.begin(0x42000B);
  w.end();
  w.text(0x42000C, "");
  w.bytes(0x42000D, {});
  w.end();
  EXPECT_EQ(w.open(), 0u);

  const Item root = decoded(out);
  EXPECT_EQ(root.type(), Type::structure);
  EXPECT_EQ(root.tag(), 0x420078u);
  ASSERT_EQ(root.children().size(), 13u);
  EXPECT_EQ(root.find(0x420001)->integer(), -5);
  EXPECT_EQ(root.find(0x420002)->long_integer(), -1234567890123LL);
  EXPECT_EQ(Bytes(root.find(0x420003)->big_integer()->begin(), root.find(0x420003)->big_integer()->end()), big);
  EXPECT_EQ(root.find(0x420004)->enumeration(), 0xFFFFFFFFu);
  EXPECT_EQ(root.find(0x420005)->boolean(), false);
  EXPECT_EQ(root.find(0x420006)->text(), "h\xC3\xA9llo \xF0\x9F\x94\x91");
  EXPECT_EQ(root.find(0x420007)->bytes()->size(), 9u);
  EXPECT_EQ(root.find(0x420008)->date_time(), -1);
  EXPECT_EQ(root.find(0x420009)->interval(), 0xFFFFFFFFu);
  EXPECT_EQ(root.find(0x42000A)->date_time_extended(), 1205495800123456LL);
  EXPECT_TRUE(root.find(0x42000B)->children().empty());
  EXPECT_EQ(root.find(0x42000C)->text(), "");
  EXPECT_TRUE(root.find(0x42000D)->bytes()->empty());
  EXPECT_EQ(root.find(0x420099), nullptr);
}

TEST(TtlvRoundTrip, AccessorsOfAnotherTypeAnswerNothing) {
  const Bytes message = written([](Writer& w) { w.integer(kTag, 1); });
  const Item item = decoded(message);
  EXPECT_FALSE(item.enumeration());
  EXPECT_FALSE(item.long_integer());
  EXPECT_FALSE(item.text());
  EXPECT_FALSE(item.bytes());
  EXPECT_FALSE(item.big_integer());
  EXPECT_FALSE(item.boolean());
  EXPECT_FALSE(item.interval());
  EXPECT_FALSE(item.date_time());
  EXPECT_TRUE(item.children().empty());
}

TEST(TtlvRoundTrip, FindAllKeepsTheOrderOfRepeatedTags) {
  const Bytes message = written([](Writer& w) {
    w.begin(kTag);
    w.text(0x420094, "a");
    w.integer(0x420001, 0);
    w.text(0x420094, "b");
    w.end();
  });
  const Item root = decoded(message);
  const auto all = root.find_all(0x420094);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->text(), "a");
  EXPECT_EQ(all[1]->text(), "b");
  EXPECT_EQ(root.find(0x420094), all[0]);
}

TEST(TtlvRoundTrip, DecodedBytesBorrowTheMessageBuffer) {
  const Bytes message = written([](Writer& w) {
    w.begin(kTag);
    w.bytes(0x4200C2, from_hex("AA BB CC"));
    w.end();
  });
  const Item root = decoded(message);
  const ByteView data = *root.find(0x4200C2)->bytes();
  EXPECT_GE(data.data(), message.data());
  EXPECT_LT(data.data(), message.data() + message.size());
}

TEST(TtlvRoundTrip, MessageSizeReadsTheTotalFromTheHeader) {
  const Bytes message = written([](Writer& w) {
    w.begin(0x42007B);
    w.text(0x420094, "0123456789");
    w.end();
  });
  Result<std::size_t> size = message_size(ByteView(message).first(8));
  ASSERT_TRUE(size.ok()) << size.error().message();
  EXPECT_EQ(*size, message.size());
}

// Rejections: one per rule.

TEST(TtlvRejects, TruncatedHeader) {
  expect_malformed(from_hex("42 00 20 01 00 00"), "truncated item header at offset 0");
}

TEST(TtlvRejects, EmptyMessage) { expect_malformed({}, "truncated item header"); }

TEST(TtlvRejects, LengthPastTheEnd) {
  expect_malformed(from_hex("42 00 20 | 07 | 00 00 00 10 | 48 65 6C 6C 6F 00 00 00"),
                   "length past the end");
}

TEST(TtlvRejects, ChildLengthPastItsStructure) {
  // The outer structure claims 16 bytes; its child claims 16 of value.
  expect_malformed(from_hex("42 00 20 01 00 00 00 10 | 42 00 21 08 00 00 00 10 | 00 00 00 00 00 00 00 00"
                            "00 00 00 00 00 00 00 00"),
                   "length past the end of its container at offset 8");
}

TEST(TtlvRejects, HugeLengthDoesNotOverflow) {
  expect_malformed(from_hex("42 00 20 | 08 | FF FF FF FF | 00 00 00 00 00 00 00 00"),
                   "length past the end");
}

TEST(TtlvRejects, MissingPadding) {
  // "Hello" with no padding after it.
  expect_malformed(from_hex("42 00 20 | 07 | 00 00 00 05 | 48 65 6C 6C 6F"), "length past the end");
}

TEST(TtlvRejects, NonzeroPadding) {
  expect_malformed(from_hex("42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 01"),
                   "nonzero padding at offset 0");
  expect_malformed(from_hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 01 00"),
                   "nonzero padding");
}

TEST(TtlvRejects, BooleanOtherThanZeroOrOne) {
  expect_malformed(from_hex("42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02"),
                   "boolean neither 0 nor 1");
  expect_malformed(from_hex("42 00 20 | 06 | 00 00 00 08 | 01 00 00 00 00 00 00 01"),
                   "boolean neither 0 nor 1");
}

TEST(TtlvRejects, WrongFixedLength) {
  expect_malformed(from_hex("42 00 20 | 02 | 00 00 00 08 | 00 00 00 00 00 00 00 08"),
                   "wrong length for its type");
  expect_malformed(from_hex("42 00 20 | 05 | 00 00 00 08 | 00 00 00 00 00 00 00 08"),
                   "wrong length for its type");
  expect_malformed(from_hex("42 00 20 | 0A | 00 00 00 02 | 00 01 00 00 00 00 00 00"),
                   "wrong length for its type");
  expect_malformed(from_hex("42 00 20 | 03 | 00 00 00 04 | 00 00 00 01 00 00 00 00"),
                   "wrong length for its type");
  expect_malformed(from_hex("42 00 20 | 06 | 00 00 00 01 | 01 00 00 00 00 00 00 00"),
                   "wrong length for its type");
  expect_malformed(from_hex("42 00 20 | 09 | 00 00 00 04 | 00 00 00 01 00 00 00 00"),
                   "wrong length for its type");
}

TEST(TtlvRejects, BigIntegerNotAMultipleOfEight) {
  expect_malformed(from_hex("42 00 20 | 04 | 00 00 00 04 | 00 00 00 01 00 00 00 00"),
                   "big integer length");
  expect_malformed(from_hex("42 00 20 | 04 | 00 00 00 00"), "big integer length");
}

TEST(TtlvRejects, StructureLengthNotAMultipleOfEight) {
  expect_malformed(from_hex("42 00 20 | 01 | 00 00 00 04 | 00 00 00 00 00 00 00 00"),
                   "structure length not a multiple of 8");
}

TEST(TtlvRejects, UnknownType) {
  expect_malformed(from_hex("42 00 20 | 0C | 00 00 00 04 | 00 00 00 01 00 00 00 00"), "unknown item type");
  expect_malformed(from_hex("42 00 20 | 00 | 00 00 00 00"), "unknown item type");
}

TEST(TtlvRejects, DepthBomb) {
  // 17 nested structures: one past the default limit of 16.
  Bytes out;
  Writer w(out);
  for (int i = 0; i < 17; ++i) w.begin(kTag);
  for (int i = 0; i < 17; ++i) w.end();
  expect_malformed(out, "nesting deeper than the limit at offset 128");

  Bytes sixteen;
  Writer w16(sixteen);
  for (int i = 0; i < 16; ++i) w16.begin(kTag);
  for (int i = 0; i < 16; ++i) w16.end();
  EXPECT_TRUE(decode(sixteen).ok());
}

TEST(TtlvRejects, DeepNestingStopsAtTheLimitNotAtTheStack) {
  // As deep as the message size allows; the decoder must stop at max_depth.
  Bytes out;
  Writer w(out);
  const int depth = 64 * 1024 / 8;
  for (int i = 0; i < depth; ++i) w.begin(kTag);
  for (int i = 0; i < depth; ++i) w.end();
  expect_malformed(out, "nesting deeper than the limit", Limits{.max_message = out.size()});
}

TEST(TtlvRejects, ItemCountBomb) {
  Bytes out;
  Writer w(out);
  w.begin(kTag);
  for (int i = 0; i < 2048; ++i) w.boolean(0x420001, true);  // 2049 items with the root
  w.end();
  expect_malformed(out, "more items than the limit", Limits{.max_message = out.size()});
  EXPECT_TRUE(decode(out, Limits{.max_message = out.size(), .max_items = 2049}).ok());
}

TEST(TtlvRejects, OversizeMessage) {
  Bytes out;
  Writer w(out);
  w.bytes(kTag, Bytes(64 * 1024, 0xAB));
  expect_malformed(out, "message larger than 65536 bytes");
}

TEST(TtlvRejects, InvalidUtf8) {
  for (const char* bad : {"\xFF", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "\xC3", "ab\xE2\x82", "\x80"}) {
    Bytes out;
    Writer(out).text(kTag, bad);
    expect_malformed(out, "text string not valid UTF-8");
  }
}

TEST(TtlvRejects, TrailingBytes) {
  Bytes out = written([](Writer& w) { w.integer(kTag, 1); });
  out.insert(out.end(), 8, 0);
  expect_malformed(out, "trailing bytes after the message at offset 16");
}

TEST(TtlvRejects, ErrorsNeverQuoteTheMessage) {
  // A byte string whose padding is bad: the error names the place, not the bytes.
  const Bytes message = from_hex("42 00 20 | 08 | 00 00 00 03 | 53 45 43 00 00 00 00 07");
  Result<Item> item = decode(message);
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.error().message().find("SEC"), std::string::npos);
  EXPECT_EQ(item.error().message().find("534543"), std::string::npos);
}

TEST(TtlvRejects, MessageSizeOfANonStructure) {
  Result<std::size_t> size = message_size(from_hex("42 00 7B | 02 | 00 00 00 04"));
  ASSERT_FALSE(size.ok());
  EXPECT_EQ(size.error().code(), Code::unavailable);
  EXPECT_NE(size.error().message().find("not a structure"), std::string::npos);
}

TEST(TtlvRejects, MessageSizeOfATruncatedHeader) {
  EXPECT_FALSE(message_size(from_hex("42 00 7B 01 00 00")).ok());
}

TEST(TtlvRejects, MessageSizeOverTheLimit) {
  Result<std::size_t> size = message_size(from_hex("42 00 7B | 01 | 00 01 00 00"));
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.error().message().find("larger than"), std::string::npos);
  EXPECT_TRUE(message_size(from_hex("42 00 7B | 01 | 00 00 FF F8")).ok());
  EXPECT_FALSE(message_size(from_hex("42 00 7B | 01 | FF FF FF F8")).ok());
}

TEST(TtlvRejects, MessageSizeOfAnOddStructureLength) {
  EXPECT_FALSE(message_size(from_hex("42 00 7B | 01 | 00 00 00 0C")).ok());
}

// Mutations of a valid message: every one is decoded or refused, never
// read out of bounds (the sanitizer builds check that), before the fuzzer
// goes further.

Bytes sample_message() {
  return written([](Writer& w) {
    w.begin(0x42007B);
    w.begin(0x42007A);
    w.integer(0x42000D, 1);
    w.date_time(0x420092, 1700000000);
    w.end();
    w.begin(0x42000F);
    w.enumeration(0x42005C, 0x20);
    w.text(0x42007D, "h\xC3\xA9");
    w.bytes(0x4200C2, from_hex("01 02 03 04 05"));
    w.boolean(0x4200C5, true);
    w.long_integer(0x420001, 7);
    w.big_integer(0x420002, from_hex("00 00 00 00 00 00 00 01"));
    w.interval(0x420003, 9);
    w.end();
    w.end();
  });
}

TEST(TtlvMutations, EveryTruncationIsRefused) {
  const Bytes message = sample_message();
  ASSERT_TRUE(decode(message).ok());
  for (std::size_t n = 0; n < message.size(); ++n) {
    EXPECT_FALSE(decode(ByteView(message).first(n)).ok()) << n;
  }
}

TEST(TtlvMutations, EverySingleByteChangeIsDecodedOrRefused) {
  const Bytes message = sample_message();
  std::size_t refused = 0;
  for (std::size_t i = 0; i < message.size(); ++i) {
    for (std::uint8_t x : {0x01, 0x80, 0xFF}) {
      Bytes m = message;
      m[i] ^= x;
      Result<Item> item = decode(m);
      if (!item.ok()) {
        ++refused;
        EXPECT_EQ(item.error().code(), Code::unavailable);
      }
    }
  }
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace trousseau::providers::kmip
