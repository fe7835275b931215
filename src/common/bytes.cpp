#include "common/bytes.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace trousseau {

std::string hex_encode(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(data.size() * 2, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

std::string base64_encode(ByteView data) {
  std::string out(sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

namespace {

/// 1 when `c` is in [lo, hi], without a branch.
unsigned in_range(unsigned char c, unsigned char lo, unsigned char hi) {
  return static_cast<unsigned>(static_cast<unsigned char>(c - lo) <= hi - lo);
}

}  // namespace

bool base64_decode(std::string_view text, Bytes& out) {
  // libsodium 1.0.18 (Debian 12) decodes bytes of 0x80 and above as if
  // they were letters of the alphabet ("\xa0" reads as '/'; found by
  // tests/fuzz/legacy_fuzz): two texts would give the same bytes. So the
  // alphabet is checked first, without a branch on any character, as the
  // text may be a secret.
  unsigned outside = 0;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    outside |= 1U ^ (in_range(c, 'A', 'Z') | in_range(c, 'a', 'z') | in_range(c, '0', '9') |
                     in_range(c, '+', '+') | in_range(c, '/', '/') | in_range(c, '=', '='));
  }
  if (outside != 0) {
    out.clear();
    return false;
  }
  out.resize(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    out.clear();
    return false;
  }
  out.resize(len);
  return true;
}

Bytes sha256(std::initializer_list<ByteView> parts) {
  Bytes digest(32);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  for (ByteView p : parts) ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, digest.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SHA-256 unavailable in OpenSSL");  // broken install
  return digest;
}

void random_fill(std::span<std::uint8_t> out) {
  // OpenSSL's per-thread DRBG: seeded from the kernel, reseeded on fork,
  // and no system call per draw (libsodium's randombytes makes one each).
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    // Nonces and keys without entropy are worse than no answer at all.
    std::fputs("trousseau: the random generator failed; aborting\n", stderr);
    std::abort();
  }
}

}  // namespace trousseau
