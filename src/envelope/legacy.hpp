// The original (Go) Trousseau's ciphertexts, recognised so that Decrypt can
// open them during a migration (docs/migration.md, providers/legacy.hpp).
//
//   Trousseau v1   vault:v<N>:<base64>              Vault Transit's own text
//   the v2 alpha   <name>:-:<base64 of <name>'s ciphertext>\n   one per provider
//
// Neither carries anything we can authenticate before a KMS opens it: the
// parse only decides which KMS may be asked, and the engine asks only the
// provider the operator mapped to that origin.
#pragma once

#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace trousseau::envelope {

enum class LegacyFormat {
  trousseau_v1,  ///< a bare `vault:vN:` text
  v2_alpha,      ///< `<name>:-:<base64>` lines
};

struct LegacyPart {
  /// Who made it: the original's provider name ("vault", "awskms",
  /// "azurekms", …): what `legacy:` in the configuration maps.
  std::string origin;
  /// What that provider returned, framing and base64 removed: Vault's
  /// `vault:vN:<base64>` text, or AWS KMS's CiphertextBlob.
  Bytes ciphertext;
};

struct LegacyCiphertext {
  LegacyFormat format = LegacyFormat::trousseau_v1;
  std::vector<LegacyPart> parts;  ///< at least one; origins distinct
};

/// Whether `data` claims to be one of the original's formats (and so is not
/// our envelope, whose first bytes are kMagic). Cheap: looks at the prefix
/// and first line only.
bool looks_legacy(ByteView data);

/// Parses a legacy ciphertext strictly: every line must be well formed,
/// base64 must be canonical, a Vault ciphertext must read `vault:v<N>:`
/// followed by base64, and no origin may appear twice. invalid_argument
/// otherwise, naming the line but never echoing its bytes.
Result<LegacyCiphertext> parse_legacy(ByteView data);

/// "trousseau v1" or "trousseau v2 alpha", for logs and `trousseau inspect`.
std::string_view to_string(LegacyFormat format);

/// Whether `text` is a Vault Transit ciphertext, `vault:v<N>:<base64>`, and
/// if so its key version N (else 0).
unsigned vault_ciphertext_version(std::string_view text);

}  // namespace trousseau::envelope
