// CRC32C (Castagnoli, RFC 3720 §B.4), the checksum Cloud KMS puts on both
// sides of every encrypt and decrypt to catch corruption in transit.
#pragma once

#include <cstdint>

#include "common/bytes.hpp"

namespace trousseau::providers::gcpkms {

/// Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF:
/// crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(ByteView data);

}  // namespace trousseau::providers::gcpkms
