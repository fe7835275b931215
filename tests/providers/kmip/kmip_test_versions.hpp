// The KMIP protocol versions the tests name, and a copy of a byte view.
#pragma once

#include "common/bytes.hpp"
#include "providers/kmip/messages.hpp"

namespace trousseau::providers::kmip::test {

inline constexpr ProtocolVersion v1_2{1, 2};
inline constexpr ProtocolVersion v1_3{1, 3};
inline constexpr ProtocolVersion v1_4{1, 4};
inline constexpr ProtocolVersion v2_0{2, 0};

inline Bytes copy(ByteView v) { return {v.begin(), v.end()}; }

}  // namespace trousseau::providers::kmip::test
