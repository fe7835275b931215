// Finding the configured token and key. Blocking PKCS#11 calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "providers/pkcs11/cryptoki.hpp"

namespace trousseau::providers::pkcs11 {

struct Token {
  CK_SLOT_ID slot = 0;
  std::string label;         ///< CKA token label, padding removed
  std::string serial;        ///< serial number, padding removed
  bool initialized = false;  ///< CKF_TOKEN_INITIALIZED
};

/// The token whose label is `label`, or the one in slot `slot`: exactly one
/// must be given. Several tokens with the label is an error, not a choice.
Result<Token> find_token(const CK_FUNCTION_LIST& api, const std::optional<std::string>& label,
                         std::optional<std::uint64_t> slot);

struct KeySelector {
  std::optional<std::string> label;  ///< CKA_LABEL
  std::optional<Bytes> id;           ///< CKA_ID
};

struct Key {
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  Bytes id;           ///< CKA_ID, possibly empty
  std::string label;  ///< CKA_LABEL, possibly empty
};

/// The one AES secret key (CKO_SECRET_KEY, CKK_AES) matching every given
/// attribute, allowed to encrypt and decrypt. Needs a logged-in session.
Result<Key> find_key(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session,
                     const KeySelector& selector);

/// "labelled 'k1' with id 01ab": for messages.
std::string describe(const KeySelector& selector);

}  // namespace trousseau::providers::pkcs11
