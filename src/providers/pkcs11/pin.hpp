// Where the user PIN comes from. The configuration names a file or an
// environment variable, never the PIN itself.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "common/file.hpp"
#include "common/secret.hpp"

namespace trousseau::providers::pkcs11 {

struct PinSource {
  std::string file;  ///< read at each login; one trailing newline is dropped
  std::string env;   ///< the variable's name; used when `file` is empty

  /// "PIN file /etc/trousseau/hsm.pin" or "PIN variable HSM_PIN": for
  /// messages. Never the PIN.
  std::string describe() const;
};

/// One version of the PIN, told apart without keeping the PIN: for a file,
/// its identity and content version (see FileVersion); for a variable, a
/// digest of its value under a per-process random salt.
struct PinVersion {
  FileVersion file;
  std::array<std::uint8_t, 32> digest{};

  bool operator==(const PinVersion&) const = default;
};

struct Pin {
  SecretBytes value;
  PinVersion version;  ///< of the source as it was read
};

/// The source's current version, without reading the PIN. A PIN file must
/// be a regular file of at most 1 KiB, not a symlink, owned by this
/// process's user or by root, and neither readable nor writable by group
/// or others (as key files; see common/file.hpp): anything else is
/// Code::failed_precondition naming the path.
Result<PinVersion> pin_version(const PinSource& source);

/// Reads the PIN now, with the same checks, so a rotated PIN file is picked
/// up at the next login. The caller wipes it (SecretBytes does) as soon as
/// C_Login returns.
Result<Pin> read_pin(const PinSource& source);

}  // namespace trousseau::providers::pkcs11
