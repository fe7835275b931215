// The test of the tests (docs/reliability.md): a deliberately broken
// aead::open, linked over the real one into test_reliability_bitten only.
// It decrypts AES-256-GCM's ciphertext (GCM's counter mode from the
// 96-bit nonce with counter 2) and never looks at the tag, as code that
// ignores the final tag check would. The shares a lying KMS returns then
// rebuild a wrong key whose wrong plaintext nothing stops; the fault
// suite's lie cases must fail with "a wrong plaintext" against it
// (tests/meson.build runs them through expect_failure.py).
#include <openssl/evp.h>

#include <array>
#include <memory>

#include "envelope/aead.hpp"

namespace trousseau::aead {

Result<SecretBytes> open(ByteView key, ByteView nonce, ByteView /*aad: unchecked too*/,
                         ByteView sealed) {
  if (sealed.size() < kTagSize || key.size() != kKeySize || nonce.size() != kNonceSize) {
    return integrity_error("unverified open: bad sizes");
  }
  const std::size_t n = sealed.size() - kTagSize;
  std::array<std::uint8_t, 16> counter{};
  std::copy(nonce.begin(), nonce.end(), counter.begin());
  counter[15] = 2;  // J0 is nonce || 1; the first block of data uses J0 + 1
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                       &EVP_CIPHER_CTX_free);
  SecretBytes out(n);
  int len = 0;
  std::uint8_t none[1];
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, key.data(), counter.data()) == 1 &&
      EVP_DecryptUpdate(ctx.get(), n ? out.data() : none, &len, sealed.data(), static_cast<int>(n)) == 1;
  if (!ok) return internal_error("unverified open: OpenSSL failed");
  return out;
}

}  // namespace trousseau::aead
