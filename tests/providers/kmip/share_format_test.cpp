// The wrapped-share layout and the CBC context binding of the kmip provider
// (src/providers/kmip/share_format.hpp). No server.
#include <gtest/gtest.h>

#include "providers/kmip/share_format.hpp"

namespace trousseau::providers::kmip {
namespace {

WrappedShare gcm_share() {
  WrappedShare w;
  w.mode = Mode::gcm;
  w.iv = Bytes(12, 0x11);
  w.tag = Bytes(16, 0x22);
  w.ciphertext = Bytes(32, 0x33);
  return w;
}

TEST(KmipShareFormat, RoundTripsBothModes) {
  const WrappedShare g = gcm_share();
  Result<WrappedShare> back = decode_wrapped(encode_wrapped(g));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->mode, Mode::gcm);
  EXPECT_EQ(back->iv, g.iv);
  EXPECT_EQ(back->tag, g.tag);
  EXPECT_EQ(back->ciphertext, g.ciphertext);

  WrappedShare c;
  c.mode = Mode::cbc;
  c.iv = Bytes(16, 1);
  c.ciphertext = Bytes(80, 2);
  back = decode_wrapped(encode_wrapped(c));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->mode, Mode::cbc);
  EXPECT_TRUE(back->tag.empty());
  EXPECT_EQ(back->ciphertext.size(), 80u);
}

TEST(KmipShareFormat, RefusesEveryMalformedLayoutAsAnIntegrityFailure) {
  const Bytes good = encode_wrapped(gcm_share());
  auto refused = [](Bytes b) {
    Result<WrappedShare> r = decode_wrapped(b);
    return !r.ok() && r.error().code() == Code::integrity;
  };
  EXPECT_TRUE(refused({}));
  EXPECT_TRUE(refused(Bytes(good.begin(), good.begin() + 3)));
  Bytes v = good;
  v[0] = 2;  // an unknown format version
  EXPECT_TRUE(refused(v));
  Bytes m = good;
  m[1] = 7;  // an unknown mode
  EXPECT_TRUE(refused(m));
  Bytes iv = good;
  iv[2] = 200;  // an IV longer than the data
  EXPECT_TRUE(refused(iv));
  Bytes no_ct(good.begin(), good.begin() + 3 + 12 + 1 + 16);
  EXPECT_TRUE(refused(no_ct));
  WrappedShare cbc_with_tag = gcm_share();
  cbc_with_tag.mode = Mode::cbc;
  EXPECT_TRUE(refused(encode_wrapped(cbc_with_tag)));
  WrappedShare partial_block;
  partial_block.mode = Mode::cbc;
  partial_block.iv = Bytes(16, 1);
  partial_block.ciphertext = Bytes(33, 2);
  EXPECT_TRUE(refused(encode_wrapped(partial_block)));
}

TEST(KmipShareFormat, TheBoundShareOpensOnlyUnderItsOwnContext) {
  const Bytes ctx = to_bytes("envelope nonce + slot 1");
  const SecretBytes share = SecretBytes::random(32);
  SecretBytes bound = bind_context(ctx, share.view());
  ASSERT_EQ(bound.size(), 64u);
  const std::uint8_t length[4] = {0, 0, 0, static_cast<std::uint8_t>(ctx.size())};
  EXPECT_EQ(Bytes(bound.view().begin(), bound.view().begin() + 32),
            sha256({ByteView(length, 4), ctx, share.view()}));

  Result<SecretBytes> opened = open_bound(ctx, bound.view());
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_TRUE(opened->equals(share.view()));

  Result<SecretBytes> moved = open_bound(to_bytes("envelope nonce + slot 2"), bound.view());
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code(), Code::integrity);

  Result<SecretBytes> digest_only = open_bound(ctx, bound.view().first(32));
  ASSERT_FALSE(digest_only.ok());
  EXPECT_EQ(digest_only.error().code(), Code::integrity);
}

TEST(KmipShareFormat, AnyChangedByteOfTheBoundShareFailsWithOneMessage) {
  // CBC garbles the block a change lands in: the digest covers the share
  // too, so no change goes unseen, and every failure reads the same.
  const Bytes ctx = to_bytes("context");
  const SecretBytes share = SecretBytes::random(32);
  const SecretBytes bound = bind_context(ctx, share.view());
  for (std::size_t at = 0; at < bound.size(); ++at) {
    Bytes changed(bound.view().begin(), bound.view().end());
    changed[at] ^= 0x80;
    Result<SecretBytes> r = open_bound(ctx, changed);
    ASSERT_FALSE(r.ok()) << "byte " << at;
    EXPECT_EQ(r.error().message(), not_authentic().message());
  }
}

}  // namespace
}  // namespace trousseau::providers::kmip
