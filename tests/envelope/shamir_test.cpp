#include "envelope/shamir.hpp"

#include <gtest/gtest.h>
extern "C" {
#include <libgfshare.h>
}

#include <algorithm>
#include <random>

namespace trousseau::shamir {
namespace {

std::vector<const Share*> pick(const std::vector<Share>& shares, std::vector<std::size_t> idx) {
  std::vector<const Share*> out;
  for (std::size_t i : idx) out.push_back(&shares[i]);
  return out;
}

TEST(GaloisField, MultiplicationMatchesKnownProducts) {
  // 0x11d field: x^8 = x^4 + x^3 + x^2 + 1.
  EXPECT_EQ(gf_mul(0x80, 0x02), 0x1d);
  EXPECT_EQ(gf_mul(0x02, 0x02), 0x04);
  EXPECT_EQ(gf_mul(0x00, 0xab), 0x00);
  EXPECT_EQ(gf_mul(0x01, 0xab), 0xab);
  EXPECT_EQ(gf_mul(0x53, 0xca), gf_mul(0xca, 0x53));
}

TEST(GaloisField, EveryNonZeroElementHasAnInverse) {
  for (int a = 1; a < 256; ++a) {
    EXPECT_EQ(gf_mul(static_cast<std::uint8_t>(a), gf_inv(static_cast<std::uint8_t>(a))), 1)
        << "a=" << a;
  }
  EXPECT_EQ(gf_inv(0), 0);
}

TEST(Shamir, AnyKSharesRebuildTheSecret) {
  SecretBytes secret = SecretBytes::random(32);
  auto shares = split(secret.view(), 3, 5);
  ASSERT_TRUE(shares.ok());
  std::vector<std::size_t> idx = {0, 1, 2, 3, 4};
  // every 3-subset
  for (std::size_t a = 0; a < 5; ++a)
    for (std::size_t b = a + 1; b < 5; ++b)
      for (std::size_t c = b + 1; c < 5; ++c) {
        auto s = pick(*shares, {a, b, c});
        auto out = combine(s);
        ASSERT_TRUE(out.ok());
        EXPECT_TRUE(out->equals(secret.view()));
      }
}

TEST(Shamir, FewerThanKSharesDoNotRebuildTheSecret) {
  SecretBytes secret = SecretBytes::random(32);
  auto shares = split(secret.view(), 3, 5);
  ASSERT_TRUE(shares.ok());
  auto out = combine(pick(*shares, {0, 4}));
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->equals(secret.view()));
}

TEST(Shamir, ThresholdOneMakesEveryShareTheSecret) {
  SecretBytes secret = SecretBytes::random(32);
  auto shares = split(secret.view(), 1, 4);
  ASSERT_TRUE(shares.ok());
  for (const Share& s : *shares) EXPECT_TRUE(s.y.equals(secret.view()));
}

TEST(Shamir, SharesUseXOneToN) {
  SecretBytes secret = SecretBytes::random(8);
  auto shares = split(secret.view(), 2, 16);
  ASSERT_TRUE(shares.ok());
  for (std::size_t i = 0; i < shares->size(); ++i) EXPECT_EQ((*shares)[i].x, i + 1);
}

TEST(Shamir, InterpolateReproducesAShareNotUsed) {
  SecretBytes secret = SecretBytes::random(32);
  auto shares = split(secret.view(), 2, 3);
  ASSERT_TRUE(shares.ok());
  auto y3 = interpolate(pick(*shares, {0, 1}), 3);
  ASSERT_TRUE(y3.ok());
  EXPECT_TRUE(y3->equals((*shares)[2].y.view()));
}

TEST(Shamir, RejectsDuplicateAndZeroX) {
  SecretBytes secret = SecretBytes::random(4);
  auto shares = split(secret.view(), 2, 3);
  ASSERT_TRUE(shares.ok());
  std::vector<const Share*> dup = {&(*shares)[0], &(*shares)[0]};
  EXPECT_EQ(combine(dup).error().code(), Code::invalid_argument);
  Share zero{0, SecretBytes(secret.view())};
  std::vector<const Share*> z = {&zero, &(*shares)[1]};
  EXPECT_EQ(combine(z).error().code(), Code::invalid_argument);
}

TEST(Shamir, RejectsImpossibleParameters) {
  SecretBytes secret = SecretBytes::random(4);
  EXPECT_FALSE(split(secret.view(), 0, 3).ok());
  EXPECT_FALSE(split(secret.view(), 4, 3).ok());
  EXPECT_FALSE(split(secret.view(), 2, 256).ok());
  EXPECT_FALSE(split(ByteView(), 1, 1).ok());
}

// --- Cross-check against libgfshare, an independent implementation. ---

void fill_from_sodium(unsigned char* buf, unsigned int n) { random_fill({buf, n}); }

class GfshareCrossCheck : public ::testing::Test {
 protected:
  void SetUp() override { gfshare_fill_rand = fill_from_sodium; }
  std::mt19937 rng{20261128};
};

TEST_F(GfshareCrossCheck, LibgfshareRebuildsOurShares) {
  for (int round = 0; round < 200; ++round) {
    const unsigned n = 1 + rng() % 16;
    const unsigned k = 1 + rng() % n;
    const std::size_t len = 1 + rng() % 64;
    SecretBytes secret = SecretBytes::random(len);
    auto shares = split(secret.view(), k, n);
    ASSERT_TRUE(shares.ok());
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<unsigned char> xs(k);
    for (unsigned i = 0; i < k; ++i) xs[i] = (*shares)[order[i]].x;
    gfshare_ctx* ctx = gfshare_ctx_init_dec(xs.data(), k, static_cast<unsigned>(len));
    ASSERT_NE(ctx, nullptr);
    for (unsigned i = 0; i < k; ++i) {
      gfshare_ctx_dec_giveshare(ctx, static_cast<unsigned char>(i),
                                const_cast<unsigned char*>((*shares)[order[i]].y.data()));
    }
    SecretBytes out(len);
    gfshare_ctx_dec_extract(ctx, out.data());
    gfshare_ctx_free(ctx);
    EXPECT_TRUE(out.equals(secret.view())) << "k=" << k << " n=" << n << " len=" << len;
  }
}

TEST_F(GfshareCrossCheck, WeRebuildLibgfshareShares) {
  for (int round = 0; round < 200; ++round) {
    const unsigned n = 1 + rng() % 16;
    const unsigned k = 1 + rng() % n;
    const std::size_t len = 1 + rng() % 64;
    SecretBytes secret = SecretBytes::random(len);
    // Random distinct non-zero x values, as libgfshare allows.
    std::vector<unsigned char> all(255);
    std::iota(all.begin(), all.end(), 1);
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<unsigned char> xs(all.begin(), all.begin() + n);
    gfshare_ctx* ctx = gfshare_ctx_init_enc(xs.data(), n, static_cast<unsigned char>(k),
                                            static_cast<unsigned>(len));
    ASSERT_NE(ctx, nullptr);
    gfshare_ctx_enc_setsecret(ctx, const_cast<unsigned char*>(secret.data()));
    std::vector<Share> shares;
    for (unsigned i = 0; i < n; ++i) {
      Share s{xs[i], SecretBytes(len)};
      gfshare_ctx_enc_getshare(ctx, static_cast<unsigned char>(i), s.y.data());
      shares.push_back(std::move(s));
    }
    gfshare_ctx_free(ctx);
    std::shuffle(shares.begin(), shares.end(), rng);
    std::vector<const Share*> subset;
    for (unsigned i = 0; i < k; ++i) subset.push_back(&shares[i]);
    auto out = combine(subset);
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out->equals(secret.view())) << "k=" << k << " n=" << n << " len=" << len;
  }
}

}  // namespace
}  // namespace trousseau::shamir
