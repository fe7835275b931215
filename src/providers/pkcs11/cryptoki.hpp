// The PKCS#11 (Cryptoki) API, from p11-kit's copy of the OASIS header
// (package libp11-kit-dev). Include this, never <p11-kit/pkcs11.h> itself.
#pragma once

#include <p11-kit/pkcs11.h>

// In its default compatibility mode the header maps its own lowercase names
// to the standard ones with object-like macros (`value`, `count`, `iv_len`,
// ...) and undefines most of them again at its end; these few it leaves
// behind would rename our identifiers.
#undef ck_rsa_pkcs_mgf_type_t
#undef ck_rsa_pkcs_oaep_source_type_t
#undef hash_alg
#undef s_len
#undef source_data
#undef source_data_len
#undef counter_bits
#undef iv_ptr
#undef iv_len
#undef iv_bits
#undef aad_ptr
#undef aad_len
#undef tag_bits
#undef shared_data_len
#undef shared_data
#undef public_data_len
#undef public_data
#undef string_data
#undef string_data_len
#undef data_params

namespace trousseau::providers::pkcs11 {

/// PKCS#11 3.0 return value for a failed AEAD tag check; p11-kit 0.24's
/// 2.40 header predates it.
inline constexpr CK_RV kCkrAeadDecryptFailed = 0x35UL;

}  // namespace trousseau::providers::pkcs11
