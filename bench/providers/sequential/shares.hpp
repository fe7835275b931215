// What a `sequential` wrap stores: every member's key_version and wrapped
// share, in member order. Each field is a 4-byte big-endian length followed
// by its bytes: key_version, wrapped, key_version, wrapped, ...
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"

namespace trousseau::bench::sequential {

struct MemberShare {
  std::string key_version;
  Bytes wrapped;
};

Bytes encode_shares(const std::vector<MemberShare>& shares);
/// nullopt when `data` is not exactly such a sequence.
std::optional<std::vector<MemberShare>> decode_shares(ByteView data);

}  // namespace trousseau::bench::sequential
