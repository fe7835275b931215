// Shamir secret sharing over GF(2^8), byte by byte.
//
// The field is GF(2)[x]/(x^8 + x^4 + x^3 + x^2 + 1) (0x11d), the field of
// libgfshare, which the tests use as an independent reference. Arithmetic is
// constant time: no lookup tables and no branches on secret values.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::shamir {

/// One share: its x-coordinate (never 0: the value at 0 is the secret) and
/// the polynomial values, as long as the secret.
struct Share {
  std::uint8_t x = 0;
  SecretBytes y;
};

std::uint8_t gf_mul(std::uint8_t a, std::uint8_t b);
std::uint8_t gf_inv(std::uint8_t a);  ///< a^254; gf_inv(0) == 0

/// Splits `secret` into `n` shares at x = 1..n, any `k` of which rebuild it.
/// Coefficients are drawn uniformly (a zero top coefficient is kept, not
/// re-rolled, so shares stay unbiased). With k == 1 every share equals the
/// secret. Requires 1 <= k <= n <= 255 and a non-empty secret.
Result<std::vector<Share>> split(ByteView secret, unsigned k, unsigned n);

/// Evaluates the polynomial through `shares` at `x`. The shares must have
/// distinct, non-zero x and equal lengths; x == 0 gives the secret.
Result<SecretBytes> interpolate(std::span<const Share* const> shares, std::uint8_t x);

/// The secret from exactly the given shares (at least k of them, or the
/// result is garbage: only an authenticated decryption can tell).
Result<SecretBytes> combine(std::span<const Share* const> shares);

}  // namespace trousseau::shamir
