// The envelope, format 1: parse and encode. Normative spec: docs/envelope.md.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace trousseau::envelope {

inline constexpr std::uint32_t kFormat = 1;
inline constexpr std::size_t kMaxSlots = 16;
inline constexpr std::size_t kMaxWrapsPerSlot = 8;
inline constexpr std::size_t kMaxProviderName = 63;
inline constexpr std::size_t kMaxKeyVersion = 255;
inline constexpr std::size_t kMaxPlaintext = 64 * 1024;
/// The first four bytes of every ciphertext: "TRS" and the format number.
inline constexpr std::array<std::uint8_t, 4> kMagic = {'T', 'R', 'S', 0x01};
/// Annotation keys are "<index>.shares.trousseau.io".
inline constexpr std::string_view kAnnotationDomain = ".shares.trousseau.io";

/// apiserver's checks on a v2 response (DESIGN.md §1).
inline constexpr std::size_t kMaxV2Ciphertext = 1024;
inline constexpr std::size_t kMaxV2Annotations = 32 * 1024;

using Annotations = std::map<std::string, Bytes>;

struct ShareRef {
  std::string provider;
  std::string key_version;
  Bytes wrapped;  ///< the provider's ciphertext of the share
};

struct Slot {
  std::uint8_t x = 0;
  std::vector<ShareRef> wraps;  ///< at least one
};

struct Envelope {
  std::uint8_t threshold = 0;
  std::array<std::uint8_t, 12> nonce{};
  std::vector<Slot> slots;
  Bytes header_bytes;  ///< the exact authenticated header: the AAD
  Bytes sealed;        ///< GCM ciphertext || tag
};

/// Where wrapped shares may go.
struct Limits {
  std::size_t max_ciphertext = 0;  ///< 0: no limit, everything inline (v1beta1)
  bool annotations = false;        ///< may move wrapped shares into annotations
  std::size_t max_annotations = kMaxV2Annotations;
};

struct Encoded {
  Bytes ciphertext;
  Annotations annotations;
};

/// Serializes the authenticated header of `env` (threshold, nonce, slots
/// with their providers and key versions; not the wrapped bytes).
Bytes encode_header(const Envelope& env);

/// The context a provider binds into each wrapped share (its AAD or
/// encryption context): "trousseau.io/share/v1" || nonce || k || x, so that a
/// share cannot be moved to another envelope or slot unnoticed.
Bytes share_context(const std::array<std::uint8_t, 12>& nonce, std::uint8_t threshold,
                    std::uint8_t x);

/// The GCM additional data: the header bytes followed by a SHA-256 digest
/// of every wrapped share (length-prefixed, in header order), so that no byte
/// of a stored envelope can change without failing authentication.
Bytes additional_data(const Envelope& env);

/// Lays out `env` (header_bytes and sealed already set) as a ciphertext, and
/// annotations where `limits` ask for them. Fails with failed_precondition
/// when it cannot fit.
Result<Encoded> encode(const Envelope& env, const Limits& limits);

/// Parses and validates a ciphertext plus the annotations it refers to.
/// Every structural problem is Code::invalid_argument; nothing here is
/// authenticated yet (the caller's GCM open does that).
Result<Envelope> parse(ByteView ciphertext, const Annotations& annotations);

std::string annotation_key(std::size_t index);

/// Provider names: 1-63 lowercase letters, digits and '-', starting and
/// ending with a letter or digit (they appear in envelopes, logs, metrics).
bool is_valid_provider_name(std::string_view name);

}  // namespace trousseau::envelope
