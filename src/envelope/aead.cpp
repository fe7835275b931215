#include "envelope/aead.hpp"

#include <openssl/evp.h>

#include <climits>
#include <memory>

namespace trousseau::aead {

namespace {
struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

bool sizes_ok(ByteView key, ByteView nonce, ByteView aad, std::size_t data) {
  return key.size() == kKeySize && nonce.size() == kNonceSize && aad.size() < INT_MAX &&
         data < INT_MAX;
}
}  // namespace

Result<Bytes> seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
  if (!sizes_ok(key, nonce, aad, plaintext.size())) return internal_error("aes-gcm: bad sizes");
  Ctx ctx(EVP_CIPHER_CTX_new());
  Bytes out(plaintext.size() + kTagSize);
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(),
                                      nonce.data()) == 1;
  ok = ok && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                               static_cast<int>(aad.size())) == 1;
  ok = ok && EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                               static_cast<int>(plaintext.size())) == 1;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                                 out.data() + plaintext.size()) == 1;
  if (!ok) return internal_error("aes-gcm: OpenSSL failed to seal");
  return out;
}

Result<SecretBytes> open(ByteView key, ByteView nonce, ByteView aad, ByteView sealed) {
  if (sealed.size() < kTagSize) return integrity_error("aes-gcm: ciphertext shorter than tag");
  const std::size_t n = sealed.size() - kTagSize;
  if (!sizes_ok(key, nonce, aad, n)) return internal_error("aes-gcm: bad sizes");
  Ctx ctx(EVP_CIPHER_CTX_new());
  SecretBytes out(n);
  Bytes tag(sealed.begin() + static_cast<std::ptrdiff_t>(n), sealed.end());
  std::uint8_t scratch[16];
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(),
                                      nonce.data()) == 1;
  ok = ok && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                               static_cast<int>(aad.size())) == 1;
  ok = ok && EVP_DecryptUpdate(ctx.get(), n ? out.data() : scratch, &len, sealed.data(),
                               static_cast<int>(n)) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) == 1;
  if (!ok) return internal_error("aes-gcm: OpenSSL failed to open");
  if (EVP_DecryptFinal_ex(ctx.get(), scratch, &len) != 1) {
    return integrity_error("aes-gcm: authentication tag mismatch");
  }
  return out;
}

}  // namespace trousseau::aead
