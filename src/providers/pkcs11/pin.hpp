// Where the user PIN comes from. The configuration names a file or an
// environment variable, never the PIN itself.
#pragma once

#include <string>

#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::providers::pkcs11 {

struct PinSource {
  std::string file;  ///< read at each login; one trailing newline is dropped
  std::string env;   ///< the variable's name; used when `file` is empty
};

/// Reads the PIN now, so a rotated PIN file is picked up at the next login.
/// The caller wipes it (SecretBytes does) as soon as C_Login returns.
Result<SecretBytes> read_pin(const PinSource& source);

}  // namespace trousseau::providers::pkcs11
