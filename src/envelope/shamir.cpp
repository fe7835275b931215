#include "envelope/shamir.hpp"

#include <string>

namespace trousseau::shamir {

std::uint8_t gf_mul(std::uint8_t a, std::uint8_t b) {
  std::uint8_t r = 0;
  for (int i = 0; i < 8; ++i) {
    // Masks instead of branches: 0xff when the bit is set, else 0.
    r ^= static_cast<std::uint8_t>(-(b & 1u)) & a;
    b >>= 1;
    const auto carry = static_cast<std::uint8_t>(-(a >> 7));
    a = static_cast<std::uint8_t>((a << 1) ^ (carry & 0x1d));
  }
  return r;
}

std::uint8_t gf_inv(std::uint8_t a) {
  // a^254 = a^-1 in GF(2^8)*: a^(2+4+8+16+32+64+128), a fixed chain.
  std::uint8_t sq = gf_mul(a, a);
  std::uint8_t r = sq;
  for (int i = 0; i < 6; ++i) {
    sq = gf_mul(sq, sq);
    r = gf_mul(r, sq);
  }
  return r;
}

Result<std::vector<Share>> split(ByteView secret, unsigned k, unsigned n) {
  if (secret.empty()) return invalid_argument("shamir: empty secret");
  if (k < 1 || k > n || n > 255) {
    return invalid_argument("shamir: need 1 <= k <= n <= 255, got k=" + std::to_string(k) +
                            " n=" + std::to_string(n));
  }
  const std::size_t len = secret.size();
  // coefficients[j * len + i]: coefficient of x^(j+1) for secret byte i.
  SecretBytes coefficients = SecretBytes::random((k - 1) * len + 1);

  std::vector<Share> shares;
  shares.reserve(n);
  for (unsigned s = 1; s <= n; ++s) {
    Share share{static_cast<std::uint8_t>(s), SecretBytes(len)};
    const auto x = static_cast<std::uint8_t>(s);
    for (std::size_t i = 0; i < len; ++i) {
      // Horner from the highest coefficient down to the secret byte.
      std::uint8_t acc = 0;
      for (unsigned j = k - 1; j >= 1; --j) {
        acc = gf_mul(acc, x) ^ coefficients.data()[(j - 1) * len + i];
      }
      acc = gf_mul(acc, x) ^ secret[i];
      share.y.data()[i] = acc;
    }
    shares.push_back(std::move(share));
  }
  return shares;
}

Result<SecretBytes> interpolate(std::span<const Share* const> shares, std::uint8_t x) {
  if (shares.empty()) return invalid_argument("shamir: no shares");
  const std::size_t len = shares[0]->y.size();
  for (std::size_t i = 0; i < shares.size(); ++i) {
    if (shares[i]->x == 0) return invalid_argument("shamir: share with x = 0");
    if (shares[i]->y.size() != len || len == 0) {
      return invalid_argument("shamir: shares of different or zero length");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (shares[j]->x == shares[i]->x) {
        return invalid_argument("shamir: duplicate x = " + std::to_string(shares[i]->x));
      }
    }
  }

  SecretBytes out(len);
  for (std::size_t i = 0; i < shares.size(); ++i) {
    // Lagrange basis l_i(x) = prod_{j != i} (x - x_j) / (x_i - x_j); in
    // characteristic 2, subtraction is xor. The x values are public.
    std::uint8_t num = 1;
    std::uint8_t den = 1;
    for (std::size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      num = gf_mul(num, x ^ shares[j]->x);
      den = gf_mul(den, shares[i]->x ^ shares[j]->x);
    }
    const std::uint8_t basis = gf_mul(num, gf_inv(den));
    const std::uint8_t* y = shares[i]->y.data();
    for (std::size_t b = 0; b < len; ++b) out.data()[b] ^= gf_mul(basis, y[b]);
  }
  return out;
}

Result<SecretBytes> combine(std::span<const Share* const> shares) {
  return interpolate(shares, 0);
}

}  // namespace trousseau::shamir
