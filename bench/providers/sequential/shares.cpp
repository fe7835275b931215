#include "bench/providers/sequential/shares.hpp"

#include <cstdint>

namespace trousseau::bench::sequential {

namespace {

void put(Bytes& out, ByteView field) {
  const auto n = static_cast<std::uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
  out.insert(out.end(), field.begin(), field.end());
}

std::optional<ByteView> take(ByteView& in) {
  if (in.size() < 4) return std::nullopt;
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < 4; ++i) n = (n << 8) | in[i];
  in = in.subspan(4);
  if (in.size() < n) return std::nullopt;
  ByteView field = in.first(n);
  in = in.subspan(n);
  return field;
}

}  // namespace

Bytes encode_shares(const std::vector<MemberShare>& shares) {
  Bytes out;
  for (const MemberShare& s : shares) {
    put(out, as_bytes(s.key_version));
    put(out, s.wrapped);
  }
  return out;
}

std::optional<std::vector<MemberShare>> decode_shares(ByteView data) {
  std::vector<MemberShare> shares;
  while (!data.empty()) {
    std::optional<ByteView> version = take(data);
    if (!version) return std::nullopt;
    std::optional<ByteView> wrapped = take(data);
    if (!wrapped) return std::nullopt;
    shares.push_back({std::string(as_chars(*version)), Bytes(wrapped->begin(), wrapped->end())});
  }
  return shares;
}

}  // namespace trousseau::bench::sequential
