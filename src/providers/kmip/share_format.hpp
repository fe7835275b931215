// How a KMIP share is kept in the envelope, and how the share context is
// bound to it when the server's mode has no additional data
// (docs/providers/kmip.md).
//
// Wrapped bytes: version (1) | mode (1: GCM, 2: CBC) | IV length | IV |
// tag length (0 for CBC) | tag | the server's ciphertext.
//
// GCM: the server encrypts the share with the context as additional data.
// CBC: the server encrypts D || share, where D = SHA-256(len(context) ||
// context || share) (len: 4 bytes, big-endian). CBC is not authenticated,
// so D carries both the binding and the integrity: a share moved to another
// context, or any changed byte of the IV or ciphertext (which garbles the
// block it lands in), fails D on unwrap. The provider reports every failed
// CBC unwrap the server answered, bad padding included, with one message,
// so that no answer tells a padding error from a digest error.
#pragma once

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "providers/kmip/settings.hpp"

namespace trousseau::providers::kmip {

struct WrappedShare {
  Mode mode = Mode::gcm;
  Bytes iv;
  Bytes tag;  ///< empty for CBC
  Bytes ciphertext;
};

Bytes encode_wrapped(const WrappedShare& share);
/// Code::integrity when the bytes are not a wrapped share.
Result<WrappedShare> decode_wrapped(ByteView wrapped);

/// What the server encrypts in CBC mode: D || share.
SecretBytes bind_context(ByteView context, ByteView share);
/// The share from what the server decrypted in CBC mode; Code::integrity
/// when D does not match the context and share (compared in constant time).
Result<SecretBytes> open_bound(ByteView context, ByteView plaintext);
/// The one error of every CBC unwrap that failed on the data.
Error not_authentic();

}  // namespace trousseau::providers::kmip
