// AES-GCM under a token key (CKM_AES_GCM): the wrapped-share format.
//
//   wrapped = IV (12 bytes, ours, random per call) || ciphertext || tag (16)
//
// The AAD is the caller's context (envelope::share_context), so a wrapped
// share opens only in the envelope and slot it was made for.
#pragma once

#include <cstddef>

#include "common/bytes.hpp"
#include "common/secret.hpp"
#include "providers/pkcs11/ckr.hpp"

namespace trousseau::providers::pkcs11 {

inline constexpr std::size_t kIvSize = 12;
inline constexpr std::size_t kTagSize = 16;

/// Encrypts `plaintext` in `session`; on success `wrapped` holds the format
/// above.
Rv gcm_seal(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
            ByteView aad, ByteView plaintext, Bytes& wrapped);

/// Decrypts and authenticates `wrapped` (at least kIvSize + kTagSize bytes).
Rv gcm_open(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
            ByteView aad, ByteView wrapped, SecretBytes& plaintext);

/// Seals a fixed 32-byte zero block under a fixed AAD and opens it again:
/// proves the session is logged in and the key can do both.
Rv gcm_self_test(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key);

}  // namespace trousseau::providers::pkcs11
