// The JSON of the Cloud KMS v1 REST API: encrypt and decrypt with their
// CRC32C integrity fields, cryptoKeys.get, and google.rpc.Status errors.
//
// Integrity, both ways (Google's "Verifying end-to-end data integrity"):
//  1. Every request carries the CRC32C of what it sends: plaintextCrc32c
//     and additionalAuthenticatedDataCrc32c on encrypt, ciphertextCrc32c
//     and additionalAuthenticatedDataCrc32c on decrypt. Cloud KMS refuses a
//     request whose data does not match (400 INVALID_ARGUMENT).
//  2. An encrypt answer must say verifiedPlaintextCrc32c and
//     verifiedAdditionalAuthenticatedDataCrc32c true (the service checked
//     what we sent), and its ciphertextCrc32c must match its ciphertext.
//  3. A decrypt answer's plaintextCrc32c must match its plaintext.
// An answer that fails 2 or 3 was corrupted (or the service ignored our
// checksums): it is never used. The parse reports it as `corrupt`, which
// the caller retries, as Google recommends; every corruption is
// Code::unavailable (the answer is bad, not the share).
//
// int64 fields (the CRCs) are JSON strings in proto3's JSON mapping; bytes
// fields are standard base64.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "http/message.hpp"

namespace trousseau::providers::gcpkms {

/// {"plaintext", "plaintextCrc32c", "additionalAuthenticatedData",
/// "additionalAuthenticatedDataCrc32c"}. Carries the plaintext: the caller
/// marks the request sensitive and wipes it.
std::string encrypt_request(ByteView plaintext, ByteView aad);

struct EncryptAnswer {
  std::string name;  ///< the cryptoKeyVersion that encrypted
  Bytes ciphertext;
};
/// Checks 2 above; `corrupt` is set when that check failed.
Result<EncryptAnswer> parse_encrypt_response(std::string_view body, bool& corrupt);

/// {"ciphertext", "ciphertextCrc32c", "additionalAuthenticatedData",
/// "additionalAuthenticatedDataCrc32c"}.
std::string decrypt_request(ByteView ciphertext, ByteView aad);

/// Checks 3 above; `corrupt` is set when it failed. Wipes `body`.
Result<SecretBytes> parse_decrypt_response(std::string& body, bool& corrupt);

/// What cryptoKeys.get says.
struct CryptoKeyInfo {
  std::string name;
  std::string purpose;        ///< "ENCRYPT_DECRYPT" for a symmetric key
  std::string primary;        ///< primary.name: ".../cryptoKeyVersions/<n>"; empty if none
  std::string primary_state;  ///< "ENABLED", "DISABLED", "DESTROYED", …
};
Result<CryptoKeyInfo> parse_crypto_key(std::string_view body);

/// A google.rpc.Status error body: {"error": {"code", "message", "status"}}.
struct GoogleError {
  int code = 0;
  std::string status;   ///< "PERMISSION_DENIED", "FAILED_PRECONDITION", …
  std::string message;  ///< at most 300 bytes of the service's text
};
GoogleError parse_google_error(std::string_view body);

/// Maps a non-200 Cloud KMS answer of `operation` ("encrypt", "get key"):
///  - 401, 403 → permission_denied;
///  - status FAILED_PRECONDITION (a disabled or destroyed version, 400) →
///    failed_precondition;
///  - status INVALID_ARGUMENT (400) → integrity on decrypt (`opening`: the
///    ciphertext or its additional data did not authenticate), else
///    invalid_argument;
///  - 404 → failed_precondition (the key does not exist, or we may not see it);
///  - 429, 5xx and anything else → unavailable.
Error map_kms_error(std::string_view operation, const http::Response& response, bool opening);

}  // namespace trousseau::providers::gcpkms
