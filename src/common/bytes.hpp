// Plain (non-secret) byte strings and the encodings we print them in.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace trousseau {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string hex_encode(ByteView data);
std::string base64_encode(ByteView data);
/// Strict standard base64 with padding; false on any malformed input.
bool base64_decode(std::string_view text, Bytes& out);

/// SHA-256 of the concatenation of the parts.
Bytes sha256(std::initializer_list<ByteView> parts);

/// Cryptographically secure random bytes (OpenSSL's DRBG). Aborts if the
/// generator fails: a predictable key must never be used.
void random_fill(std::span<std::uint8_t> out);

}  // namespace trousseau
