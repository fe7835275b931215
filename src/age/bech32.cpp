#include "age/bech32.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace trousseau::age {

namespace {

constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

std::uint32_t polymod(const std::vector<std::uint8_t>& values) {
  constexpr std::array<std::uint32_t, 5> kGen = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                                 0x2a1462b3};
  std::uint32_t chk = 1;
  for (std::uint8_t v : values) {
    const std::uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[i];
    }
  }
  return chk;
}

std::vector<std::uint8_t> hrp_expand(std::string_view hrp) {
  std::vector<std::uint8_t> out;
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(c) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(c) & 31);
  return out;
}

/// Regroups bits; `pad` on encoding, strict (zero padding, < 5 bits) on decoding.
bool convert_bits(ByteView in, int from, int to, bool pad, std::vector<std::uint8_t>& out) {
  std::uint32_t acc = 0;
  int bits = 0;
  const std::uint32_t maxv = (1u << to) - 1;
  for (std::uint8_t v : in) {
    if (v >> from) return false;
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & maxv));
    }
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<std::uint8_t>((acc << (to - bits)) & maxv));
  } else if (bits >= from || ((acc << (to - bits)) & maxv) != 0) {
    return false;
  }
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string bech32_encode(std::string_view hrp, ByteView data) {
  std::string h;
  for (char c : hrp) h += lower(c);
  std::vector<std::uint8_t> values;
  convert_bits(data, 8, 5, true, values);
  std::vector<std::uint8_t> check = hrp_expand(h);
  check.insert(check.end(), values.begin(), values.end());
  check.insert(check.end(), 6, 0);
  const std::uint32_t mod = polymod(check) ^ 1;
  std::string out = h + "1";
  for (std::uint8_t v : values) out += kCharset[v];
  for (int i = 0; i < 6; ++i) out += kCharset[(mod >> (5 * (5 - i))) & 31];
  return out;
}

Result<Bech32> bech32_decode(std::string_view text) {
  bool has_lower = false, has_upper = false;
  for (char c : text) {
    if (c < 33 || c > 126) return invalid_argument("bech32: a character outside US-ASCII 33..126");
    has_lower = has_lower || (c >= 'a' && c <= 'z');
    has_upper = has_upper || (c >= 'A' && c <= 'Z');
  }
  if (has_lower && has_upper) return invalid_argument("bech32: mixed case");
  const std::size_t sep = text.rfind('1');
  if (sep == std::string_view::npos || sep == 0 || sep + 7 > text.size()) {
    return invalid_argument("bech32: no separator, empty prefix or short checksum");
  }
  Bech32 out;
  for (char c : text.substr(0, sep)) out.hrp += lower(c);
  std::vector<std::uint8_t> values;
  for (char c : text.substr(sep + 1)) {
    const std::size_t v = kCharset.find(lower(c));
    if (v == std::string_view::npos) return invalid_argument("bech32: a character outside the alphabet");
    values.push_back(static_cast<std::uint8_t>(v));
  }
  std::vector<std::uint8_t> check = hrp_expand(out.hrp);
  check.insert(check.end(), values.begin(), values.end());
  if (polymod(check) != 1) return invalid_argument("bech32: bad checksum");
  values.resize(values.size() - 6);
  if (!convert_bits(values, 5, 8, false, out.data)) {
    return invalid_argument("bech32: padding bits are not zero");
  }
  return out;
}

}  // namespace trousseau::age
