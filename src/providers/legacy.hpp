// Reading the original Trousseau's ciphertexts, so that a cluster can move
// over without re-encrypting first (docs/migration.md).
//
// The original (Go) Trousseau never made envelopes: it sent kube-apiserver's
// v1beta1 plaintext to one KMS and returned that KMS's ciphertext as is.
//   * Trousseau v1: Vault Transit's own text, `vault:vN:<base64>`. It sent
//     base64(DEK) as Transit's `plaintext` (the API's own encoding), so
//     Vault's decrypt answers base64(DEK), decoded once, as for any call.
//   * the v2 alpha: one `<provider>:-:<ciphertext>\n` line per provider,
//     where <ciphertext> is base64 of what that provider returned (Vault's
//     `vault:vN:` text, or AWS KMS's CiphertextBlob).
// No share context, no threshold, no key_version: whoever holds the KMS key
// opens it. So a legacy ciphertext is accepted only through v1beta1 (which
// is all Trousseau ever spoke) and only by a provider the operator mapped to
// it in `legacy:`; the provider names no key but its own configured one.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include "providers/provider.hpp"

namespace trousseau::providers {

/// Implemented, next to Provider, by the provider types whose keys the
/// original Trousseau used (vault, awskms). Same completion contract as
/// Provider's operations (provider.hpp): never inline, cancellable, bound by
/// options.deadline, errors that carry no key material.
class LegacyDecrypter {
 public:
  virtual ~LegacyDecrypter() = default;

  /// Opens `ciphertext`, exactly what the original provider returned, after
  /// the kms layer removed the v2 alpha's line framing and base64: Vault's
  /// `vault:vN:<base64>` text, or AWS's CiphertextBlob bytes. The answer is
  /// the plaintext kube-apiserver once sent. Only the provider's configured
  /// key is named to the KMS; an answer that says another key was used is
  /// Code::integrity.
  template <typename Token>
  auto async_legacy_decrypt(const CallOptions& options, ByteView ciphertext, Token&& token) {
    return asio::async_initiate<Token, UnwrapSignature>(
        [this](auto handler, const CallOptions& o, ByteView c) {
          legacy_decrypt_impl(o, c, std::move(handler));
        },
        token, options, ciphertext);
  }

 private:
  virtual void legacy_decrypt_impl(const CallOptions& options, ByteView ciphertext,
                                   asio::any_completion_handler<UnwrapSignature> handler) = 0;
};

}  // namespace trousseau::providers
