#include "providers/gcpkms/crc32c.hpp"

#include <boost/crc.hpp>

namespace trousseau::providers::gcpkms {

std::uint32_t crc32c(ByteView data) {
  // Boost.CRC takes the polynomial unreflected (0x1EDC6F41) and reflects
  // input and output, as iSCSI and Cloud KMS do.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

}  // namespace trousseau::providers::gcpkms
