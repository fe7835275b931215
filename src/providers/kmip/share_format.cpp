#include "providers/kmip/share_format.hpp"

#include <openssl/crypto.h>

#include <cstring>

namespace trousseau::providers::kmip {

namespace {

constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kDigest = 32;

}  // namespace

Bytes encode_wrapped(const WrappedShare& share) {
  Bytes out;
  out.reserve(4 + share.iv.size() + share.tag.size() + share.ciphertext.size());
  out.push_back(kFormat);
  out.push_back(share.mode == Mode::gcm ? 1 : 2);
  out.push_back(static_cast<std::uint8_t>(share.iv.size()));
  out.insert(out.end(), share.iv.begin(), share.iv.end());
  out.push_back(static_cast<std::uint8_t>(share.tag.size()));
  out.insert(out.end(), share.tag.begin(), share.tag.end());
  out.insert(out.end(), share.ciphertext.begin(), share.ciphertext.end());
  return out;
}

Result<WrappedShare> decode_wrapped(ByteView w) {
  auto bad = [](const char* what) { return integrity_error(std::string("wrapped share: ") + what); };
  if (w.size() < 4) return bad("too short");
  if (w[0] != kFormat) return bad("unknown format version");
  WrappedShare s;
  if (w[1] == 1) {
    s.mode = Mode::gcm;
  } else if (w[1] == 2) {
    s.mode = Mode::cbc;
  } else {
    return bad("unknown mode");
  }
  std::size_t at = 2;
  const std::size_t iv = w[at++];
  if (iv == 0 || iv > 32 || w.size() < at + iv + 1) return bad("bad IV length");
  s.iv.assign(w.begin() + at, w.begin() + at + iv);
  at += iv;
  const std::size_t tag = w[at++];
  if ((s.mode == Mode::gcm) != (tag != 0) || tag > 16 || w.size() < at + tag) {
    return bad("bad tag length");
  }
  s.tag.assign(w.begin() + at, w.begin() + at + tag);
  at += tag;
  if (w.size() == at) return bad("no ciphertext");
  s.ciphertext.assign(w.begin() + at, w.end());
  if (s.mode == Mode::cbc && s.ciphertext.size() % 16 != 0) return bad("CBC ciphertext is not whole blocks");
  return s;
}

namespace {

Bytes digest(ByteView context, ByteView share) {
  const std::uint32_t n = static_cast<std::uint32_t>(context.size());
  const std::uint8_t length[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                  static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
  return sha256({ByteView(length, 4), context, share});
}

}  // namespace

Error not_authentic() { return integrity_error("the share did not authenticate"); }

SecretBytes bind_context(ByteView context, ByteView share) {
  const Bytes d = digest(context, share);
  SecretBytes out(kDigest + share.size());
  std::memcpy(out.data(), d.data(), kDigest);
  if (!share.empty()) std::memcpy(out.data() + kDigest, share.data(), share.size());
  return out;
}

Result<SecretBytes> open_bound(ByteView context, ByteView plaintext) {
  if (plaintext.size() <= kDigest) return not_authentic();
  const Bytes d = digest(context, plaintext.subspan(kDigest));
  if (CRYPTO_memcmp(d.data(), plaintext.data(), kDigest) != 0) return not_authentic();
  return SecretBytes(plaintext.subspan(kDigest));
}

}  // namespace trousseau::providers::kmip
