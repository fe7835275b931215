// The counting PKCS#11 module (counting_module.cpp): SoftHSM2 behind a
// wrapper that counts C_Login calls and can hold C_Encrypt calls at a gate.
// The tests link it, so these controls and the module the provider
// dlopen()s are one and the same library.
#pragma once

#include "providers/pkcs11/cryptoki.hpp"

// Besides C_GetFunctionList (declared by cryptoki.hpp), which forwards to
// $TROUSSEAU_REAL_PKCS11_MODULE:
extern "C" {
/// C_Login calls so far, through any provider on this module.
unsigned long trousseau_p11_logins();
/// While closed, every C_Encrypt waits inside the module.
void trousseau_p11_close_encrypt_gate();
void trousseau_p11_open_encrypt_gate();
/// Returns once at least `n` C_Encrypt calls wait at the closed gate.
void trousseau_p11_wait_held_at_encrypt_gate(unsigned n);
}

#ifdef TROUSSEAU_COUNTING_MODULE
#include <cstdlib>
#include <string>

namespace trousseau::testkit {

/// The absolute path of the counting module, for `module:`. The first call
/// points it at `real_module`, once for the whole process, so that later
/// calls do not write the environment while provider threads may read it.
inline std::string counting_module(const std::string& real_module) {
  static const bool pointed = ::setenv("TROUSSEAU_REAL_PKCS11_MODULE", real_module.c_str(), 1) == 0;
  (void)pointed;
  return TROUSSEAU_COUNTING_MODULE;
}

/// Closes the C_Encrypt gate for its lifetime: the calls that reach the
/// token's C_Encrypt meanwhile stay there, occupying their pool thread and
/// session, until open() or the end of the scope.
class EncryptGate {
 public:
  EncryptGate() { trousseau_p11_close_encrypt_gate(); }
  ~EncryptGate() { open(); }
  EncryptGate(const EncryptGate&) = delete;
  EncryptGate& operator=(const EncryptGate&) = delete;

  void wait_until_held(unsigned n) { trousseau_p11_wait_held_at_encrypt_gate(n); }
  void open() { trousseau_p11_open_encrypt_gate(); }
};

}  // namespace trousseau::testkit
#endif
