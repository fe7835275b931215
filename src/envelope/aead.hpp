// AES-256-GCM through OpenSSL EVP (so a FIPS provider can serve it).
#pragma once

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::aead {

inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;

/// ciphertext || tag. The key must be 32 bytes and the nonce 12 bytes, and a
/// (key, nonce) pair must never seal twice.
Result<Bytes> seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext);

/// The plaintext, or Code::integrity when the tag does not verify.
Result<SecretBytes> open(ByteView key, ByteView nonce, ByteView aad, ByteView sealed);

}  // namespace trousseau::aead
