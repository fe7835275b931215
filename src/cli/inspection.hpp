// What `trousseau inspect` reads out of a stored ciphertext without any
// KMS: the forms it accepts, what it finds, and how it prints it. Nothing
// secret is printed: wrapped shares and sealed data only by their sizes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "envelope/format.hpp"
#include "envelope/legacy.hpp"
#include "kms/stored_value.hpp"

namespace trousseau::cli {

enum class InputFormat {
  automatic,  ///< whichever of the others the first bytes say
  raw,        ///< our envelope as Encrypt returns it ("TRS" 0x01 …), or the
              ///< original Trousseau's ciphertext (vault:vN:…, <name>:-:…)
  base64,     ///< base64 of any of the others
  etcd,       ///< the value kube-apiserver stores (k8s:enc:kms:v1|v2:<name>:…)
  json,       ///< the document `trousseau encrypt --json` prints
};

struct Inspection {
  InputFormat form = InputFormat::raw;  ///< what the bytes were, after any base64
  bool base64 = false;                  ///< they came as base64 text
  bool trailing_newline = false;        ///< a final newline (etcdctl, echo) was ignored
  std::optional<kms::StoredValue> stored;
  envelope::Annotations annotations;  ///< those the envelope was parsed with
  std::size_t envelope_size = 0;
  std::optional<envelope::Envelope> envelope;
  /// Instead of an envelope: a ciphertext of the original Trousseau
  /// (docs/migration.md), which a migration still has to re-encrypt.
  std::optional<envelope::LegacyCiphertext> legacy;
  /// Why the value would not be accepted or opened, found without any key:
  /// the envelope does not parse, or kube-apiserver would refuse the value.
  std::vector<std::string> problems;
  /// Two of those, kept apart for `trousseau audit`: why the encrypted DEK
  /// is not an envelope (or legacy ciphertext) we read, and why
  /// kube-apiserver would refuse the value; "" when there is no such problem.
  std::string envelope_error;
  std::string apiserver_error;
};

/// Reads `input` in `format`. Fails (Code::invalid_argument, with a
/// message naming what is wrong) when nothing can be shown: not one of the
/// forms, bad base64, no KMS prefix, a truncated or malformed frame, a raw
/// envelope that does not parse. When the frame around the envelope reads
/// but the envelope does not, the frame is shown and the rest is a problem.
Result<Inspection> inspect(ByteView input, InputFormat format);

/// What kube-apiserver stored in etcd (InputFormat::etcd, taken as is:
/// no base64, no trailing newline forgiven). Shared with `trousseau audit`.
/// Fails as inspect() does when the frame itself does not read.
Result<Inspection> inspect_stored(ByteView value);

/// For a terminal: aligned fields and a table of the wrapped shares.
std::string render_text(const Inspection& inspection);
/// One JSON object (docs/cli.md); strings from the input are made
/// printable (\xNN escapes) before they are encoded.
std::string render_json(const Inspection& inspection);

}  // namespace trousseau::cli
