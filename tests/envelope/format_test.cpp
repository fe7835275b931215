#include "envelope/format.hpp"

#include <gtest/gtest.h>

namespace trousseau::envelope {
namespace {

Envelope sample(std::size_t slots, std::size_t wrapped_size, std::uint8_t k = 2) {
  Envelope env;
  env.threshold = k;
  env.nonce.fill(9);
  for (std::size_t i = 0; i < slots; ++i) {
    Slot s;
    s.x = static_cast<std::uint8_t>(i + 1);
    s.wraps.push_back({"provider-" + std::to_string(i), "v1", Bytes(wrapped_size, static_cast<std::uint8_t>(i))});
    env.slots.push_back(std::move(s));
  }
  env.header_bytes = encode_header(env);
  env.sealed = Bytes(48, 0xaa);
  return env;
}

TEST(EnvelopeFormat, RoundTripsInline) {
  Envelope env = sample(3, 60);
  auto enc = encode(env, {});
  ASSERT_TRUE(enc.ok());
  EXPECT_TRUE(enc->annotations.empty());
  auto back = parse(enc->ciphertext, {});
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->threshold, 2);
  EXPECT_EQ(back->header_bytes, env.header_bytes);
  EXPECT_EQ(back->sealed, env.sealed);
  ASSERT_EQ(back->slots.size(), 3u);
  EXPECT_EQ(back->slots[2].wraps[0].provider, "provider-2");
  EXPECT_EQ(back->slots[2].wraps[0].wrapped, Bytes(60, 2));
}

TEST(EnvelopeFormat, WorstCaseEightSlotsOf512BytesFitsKubernetesLimits) {
  Envelope env = sample(8, 512);
  Limits v2{kMaxV2Ciphertext, true, kMaxV2Annotations};
  auto enc = encode(env, v2);
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  EXPECT_LE(enc->ciphertext.size(), kMaxV2Ciphertext);
  std::size_t total = 0;
  for (const auto& [k, v] : enc->annotations) total += k.size() + v.size();
  EXPECT_LE(total, kMaxV2Annotations);
  EXPECT_FALSE(enc->annotations.empty());
  auto back = parse(enc->ciphertext, enc->annotations);
  ASSERT_TRUE(back.ok()) << back.error().message();
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(back->slots[i].wraps[0].wrapped, Bytes(512, i));
}

TEST(EnvelopeFormat, MissingAnnotationIsInvalidArgument) {
  Envelope env = sample(8, 512);
  auto enc = encode(env, {kMaxV2Ciphertext, true, kMaxV2Annotations});
  ASSERT_TRUE(enc.ok());
  Annotations partial = enc->annotations;
  partial.erase(partial.begin());
  EXPECT_EQ(parse(enc->ciphertext, partial).error().code(), Code::invalid_argument);
}

TEST(EnvelopeFormat, AShareAnnotationTheEnvelopeDoesNotReferenceIsInvalidArgument) {
  auto with = encode(sample(8, 512), {kMaxV2Ciphertext, true, kMaxV2Annotations});
  ASSERT_TRUE(with.ok());
  auto inline_only = encode(sample(3, 60), {});
  ASSERT_TRUE(inline_only.ok());
  for (const auto* enc : {&with.value(), &inline_only.value()}) {
    for (const std::string key : {"99.shares.trousseau.io", "x.shares.trousseau.io"}) {
      Annotations extra = enc->annotations;
      extra[key] = Bytes(4, 1);
      auto parsed = parse(enc->ciphertext, extra);
      ASSERT_FALSE(parsed.ok()) << key;
      EXPECT_EQ(parsed.error().code(), Code::invalid_argument);
      EXPECT_NE(parsed.error().message().find(key), std::string::npos);
    }
    // Another domain's annotation is not ours to judge.
    Annotations foreign = enc->annotations;
    foreign["kms.example.com"] = Bytes(4, 1);
    foreign["shares.trousseau.io"] = Bytes(4, 1);
    EXPECT_TRUE(parse(enc->ciphertext, foreign).ok());
  }
}

TEST(EnvelopeFormat, TooLargeWithoutAnnotationsFailsPrecondition) {
  Envelope env = sample(8, 512);
  auto enc = encode(env, {kMaxV2Ciphertext, false, 0});
  EXPECT_EQ(enc.error().code(), Code::failed_precondition);
}

TEST(EnvelopeFormat, EveryTruncationIsRejected) {
  auto enc = encode(sample(3, 60), {});
  ASSERT_TRUE(enc.ok());
  for (std::size_t n = 0; n < enc->ciphertext.size(); ++n) {
    Bytes cut(enc->ciphertext.begin(), enc->ciphertext.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse(cut, {}).ok()) << "length " << n;
  }
}

TEST(EnvelopeFormat, TrailingBytesAreRejected) {
  auto enc = encode(sample(3, 60), {});
  ASSERT_TRUE(enc.ok());
  Bytes longer = enc->ciphertext;
  // A well-formed unknown protobuf field (field 15, varint 1).
  longer.push_back(0x78);
  longer.push_back(0x01);
  EXPECT_EQ(parse(longer, {}).error().code(), Code::invalid_argument);
}

TEST(EnvelopeFormat, HeaderValidation) {
  Envelope dup = sample(3, 60);
  dup.slots[1].x = dup.slots[0].x;
  dup.header_bytes = encode_header(dup);
  EXPECT_EQ(parse(encode(dup, {})->ciphertext, {}).error().code(), Code::invalid_argument);

  Envelope zero = sample(3, 60);
  zero.slots[0].x = 0;
  zero.header_bytes = encode_header(zero);
  EXPECT_EQ(parse(encode(zero, {})->ciphertext, {}).error().code(), Code::invalid_argument);

  Envelope k = sample(3, 60, 4);
  EXPECT_EQ(parse(encode(k, {})->ciphertext, {}).error().code(), Code::invalid_argument);

  Envelope same_provider = sample(2, 60);
  same_provider.slots[1].wraps[0].provider = same_provider.slots[0].wraps[0].provider;
  same_provider.header_bytes = encode_header(same_provider);
  EXPECT_EQ(parse(encode(same_provider, {})->ciphertext, {}).error().code(),
            Code::invalid_argument);
}

TEST(EnvelopeFormat, ShareContextBindsNonceThresholdAndSlot) {
  std::array<std::uint8_t, 12> nonce{};
  Bytes a = share_context(nonce, 2, 1);
  EXPECT_NE(a, share_context(nonce, 2, 2));
  EXPECT_NE(a, share_context(nonce, 3, 1));
  nonce[0] = 1;
  EXPECT_NE(a, share_context(nonce, 2, 1));
}

}  // namespace
}  // namespace trousseau::envelope
