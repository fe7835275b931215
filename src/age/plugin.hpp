// The two state machines of the age plugin protocol (C2SP age-plugin):
// `recipient-v1` wraps file keys, `identity-v1` unwraps them. They only
// talk; what a key is and where it goes is the Keys behind them.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "age/stanza.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::age {

/// A wrapped file key, as it goes into the age header.
struct WrappedKey {
  std::string type;
  std::vector<std::string> args;
  Bytes body;
};

/// What the state machines call. Recipients and identities arrive as age
/// sends them (Bech32 strings); errors carry the message the user reads.
class Keys {
 public:
  virtual ~Keys() = default;
  /// Wraps `file_key` for a recipient (`age1…`) or, when `identity`, for
  /// an identity (`AGE-PLUGIN-…`).
  virtual Result<WrappedKey> wrap(const std::string& recipient_or_identity, bool identity,
                                  const SecretBytes& file_key) = 0;
  /// Whether this plugin reads stanzas of `type` at all: others are ignored.
  virtual bool understands(const std::string& type) const = 0;
  /// Unwraps one stanza the plugin understands with one identity.
  virtual Result<SecretBytes> unwrap(const std::string& identity, const Stanza& stanza) = 0;
};

/// Runs `--age-plugin=recipient-v1` on the two streams. Returns the exit
/// code: 0 once "done" is sent, 1 after an error was reported to age.
int run_recipient_v1(std::istream& in, std::ostream& out, Keys& keys);

/// Runs `--age-plugin=identity-v1` on the two streams; same exit codes.
int run_identity_v1(std::istream& in, std::ostream& out, Keys& keys);

}  // namespace trousseau::age
