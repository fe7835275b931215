// The KMIP response readers (src/providers/kmip/messages.cpp): Discover
// Versions, Locate, Get Attributes, Encrypt and Decrypt answers in every
// version we speak. The first byte picks the reader and the version, the
// rest is the server's message. Properties: a refusal is an error value
// (never a crash); what an accepted answer hands back lies within the
// message (views into the caller's buffer) and meets the reader's promise.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>

#include "check.hpp"
#include "providers/kmip/messages.hpp"

using namespace trousseau::providers::kmip;

namespace {

constexpr std::string_view kUid = "6b9ed6a8-3f2b-4d1e-9a51-1f5a7d3c2e10";

bool inside(trousseau::ByteView part, trousseau::ByteView whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const ProtocolVersion version = our_versions[in.ConsumeIntegralInRange<std::size_t>(0, 3)];
  const int reader = in.ConsumeIntegralInRange(0, 5);
  const bool iv_sent = in.ConsumeBool();
  const std::vector<std::uint8_t> message = in.ConsumeRemainingBytes<std::uint8_t>();
  const trousseau::ByteView response(message);

  switch (reader) {
    case 0: {
      auto theirs = parse_discover_versions(response, our_versions);
      if (theirs.ok()) {
        auto chosen = negotiate(our_versions, theirs.value());
        if (chosen.ok()) {
          FUZZ_CHECK(std::find(our_versions.begin(), our_versions.end(), chosen.value()) !=
                     our_versions.end());
        }
      }
      break;
    }
    case 1: {
      auto uids = parse_locate(response, version);
      (void)uids;
      break;
    }
    case 2: {
      auto attributes = parse_get_attributes(response, version, kUid);
      if (attributes.ok()) {
        FUZZ_CHECK(attributes.value().uid == kUid);
        (void)attributes.value().digest_input();
      }
      break;
    }
    case 3:
    case 4: {
      const CryptoParams params{reader == 3 ? CryptoParams::gcm : CryptoParams::cbc, 16};
      auto result = parse_encrypt(response, version, kUid, params, iv_sent);
      if (result.ok()) {
        const EncryptResult& r = result.value();
        FUZZ_CHECK(inside(r.data, response) && inside(r.iv, response) && inside(r.tag, response));
        if (params.mode == CryptoParams::gcm) FUZZ_CHECK(r.tag.size() == params.tag_length);
        if (params.mode == CryptoParams::cbc) FUZZ_CHECK(r.tag.empty());
        if (!iv_sent) FUZZ_CHECK(!r.iv.empty());
      }
      break;
    }
    default: {
      auto plain = parse_decrypt(response, version, kUid);
      if (plain.ok()) FUZZ_CHECK(inside(plain.value(), response));
      break;
    }
  }
  return 0;
}
