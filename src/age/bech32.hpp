// Bech32 (BIP-173), as age writes plugin recipients and identities: the
// checksum of BIP-173 with no limit on the length, one case per string.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace trousseau::age {

struct Bech32 {
  std::string hrp;  ///< lower case, as decoded
  Bytes data;       ///< the 8-bit payload
};

/// `hrp` + "1" + the payload and checksum, in lower case.
std::string bech32_encode(std::string_view hrp, ByteView data);

/// Accepts an all-lower or all-upper string; the human-readable part comes
/// back in lower case. Refuses mixed case, a bad checksum, characters
/// outside the alphabet and padding bits that are not zero.
Result<Bech32> bech32_decode(std::string_view text);

}  // namespace trousseau::age
