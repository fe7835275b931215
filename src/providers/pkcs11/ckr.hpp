// PKCS#11 return values: their names, and the Trousseau error they become.
#pragma once

#include <string>

#include "common/error.hpp"
#include "providers/pkcs11/cryptoki.hpp"

namespace trousseau::providers::pkcs11 {

/// What a PKCS#11 call returned, and which function it was.
struct Rv {
  CK_RV value = CKR_OK;
  const char* function = "";
  bool ok() const { return value == CKR_OK; }
};

/// "CKR_PIN_INCORRECT" for the codes we expect to meet, "CKR_0x000001A0"
/// style hex for the rest.
std::string ckr_name(CK_RV rv);

/// Our error code for a PKCS#11 failure (Code::ok for CKR_OK).
Code ckr_code(CK_RV rv);

/// "C_Login: CKR_PIN_INCORRECT", with the mapped code.
Error to_error(Rv rv);

/// True when the session, not the request, is at fault (closed, logged out,
/// or stuck in an operation): close it, and a fresh one may succeed.
bool ckr_session_unusable(CK_RV rv);

/// True when the cached key handle no longer names an object.
bool ckr_key_handle_stale(CK_RV rv);

/// True when C_Login refused the PIN itself (wrong, malformed, expired,
/// locked): the same PIN will be refused again, and each try may bring the
/// token closer to locking it.
bool ckr_pin_refused(CK_RV rv);

}  // namespace trousseau::providers::pkcs11
