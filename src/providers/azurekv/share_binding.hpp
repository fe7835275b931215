// How a share is bound to its context. Key Vault's RSA-OAEP and AES key wrap
// take no additional data, so the share never goes to the vault at all:
//
//  1. Draw a fresh 32-byte key K for this one share.
//  2. Seal the share locally with AES-256-GCM under K, a random 12-byte
//     nonce and the additional data
//       "trousseau.io/azurekv/v1" 0x00 || format || algorithm || context
//     (context: envelope::share_context, i.e. the envelope's nonce, its
//     threshold and the share's x).
//  3. Have the vault wrap K (RSA-OAEP-256 or A256KW with wrapkey; A256GCM
//     with encrypt, passing the same additional data as `aad`).
//
// Unwrap reverses it: the vault unwraps K, and the local GCM tag checks the
// share, the context and the header bytes. A share moved to another slot
// or envelope, or any flipped byte, fails with Code::integrity; the vault
// only ever sees K, never a share.
//
// Layout of the wrapped bytes (all lengths big-endian):
//   u8  format (1)
//   u8  algorithm (1 RSA-OAEP-256, 2 A256KW, 3 A256GCM)
//   u16 n, then n bytes from the vault: the wrapped K (A256GCM: iv(12) || tag(16) || ciphertext)
//   12 bytes nonce, then the sealed share (ciphertext || 16-byte tag)
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"

namespace trousseau::providers::azurekv {

enum class Algorithm : std::uint8_t {
  rsa_oaep_256 = 1,  ///< RSA keys, wrapkey/unwrapkey
  a256kw = 2,        ///< oct(-HSM) 256-bit keys, wrapkey/unwrapkey (RFC 3394)
  a256gcm = 3,       ///< oct(-HSM) 256-bit keys, encrypt/decrypt with aad
};

/// "RSA-OAEP-256", "A256KW", "A256GCM": the JWA names Key Vault uses.
std::string_view algorithm_name(Algorithm a);
std::optional<Algorithm> algorithm_from_name(std::string_view name);
/// The algorithm for a key type ("RSA", "RSA-HSM", "oct", "oct-HSM"):
/// `configured` if the type offers it, else the type's default
/// (RSA-OAEP-256, A256KW) when `configured` is empty. failed_precondition
/// for a type that cannot wrap or an algorithm it lacks.
Result<Algorithm> choose_algorithm(std::string_view configured, std::string_view kty);
/// The key operations an algorithm uses: wrapKey/unwrapKey or encrypt/decrypt.
std::string_view wrap_operation(Algorithm a);
std::string_view unwrap_operation(Algorithm a);

inline constexpr std::uint8_t kFormat = 1;
inline constexpr std::size_t kKeySize = 32;

/// The additional data of both the local seal and, for A256GCM, the vault's.
Bytes binding_aad(Algorithm a, ByteView context);

/// The local half of step 2: nonce || AES-256-GCM(share).
Result<Bytes> seal_share(ByteView key, Algorithm a, ByteView context, ByteView share);
Result<SecretBytes> open_share(ByteView key, Algorithm a, ByteView context, ByteView sealed);

/// Splits and joins the layout above. parse refuses unknown formats and
/// algorithms and wrong lengths with Code::integrity.
struct WrappedParts {
  Algorithm algorithm = Algorithm::rsa_oaep_256;
  ByteView remote;  ///< views into the parsed bytes
  ByteView sealed;
};
Result<WrappedParts> parse_wrapped(ByteView wrapped);
Bytes join_wrapped(Algorithm a, ByteView remote, ByteView sealed);

}  // namespace trousseau::providers::azurekv
