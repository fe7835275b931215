// The envelope parser (src/envelope/format.cpp) on arbitrary ciphertexts
// and annotations. Properties: whatever parse() accepts, encode() lays out
// again, and parse() reads back the same envelope; with no annotations the
// layout is byte for byte the input (the format has one encoding).
#include <fuzzer/FuzzedDataProvider.h>

#include "check.hpp"
#include "envelope/format.hpp"

namespace env = trousseau::envelope;

namespace {

bool same(const env::Envelope& a, const env::Envelope& b) {
  if (a.threshold != b.threshold || a.nonce != b.nonce || a.header_bytes != b.header_bytes ||
      a.sealed != b.sealed || a.slots.size() != b.slots.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.slots.size(); ++i) {
    const env::Slot& x = a.slots[i];
    const env::Slot& y = b.slots[i];
    if (x.x != y.x || x.wraps.size() != y.wraps.size()) return false;
    for (std::size_t j = 0; j < x.wraps.size(); ++j) {
      if (x.wraps[j].provider != y.wraps[j].provider ||
          x.wraps[j].key_version != y.wraps[j].key_version ||
          x.wraps[j].wrapped != y.wraps[j].wrapped) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  // Up to three annotations, some under our domain, then the ciphertext.
  env::Annotations annotations;
  const int count = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < count; ++i) {
    std::string key = in.ConsumeBool() ? env::annotation_key(in.ConsumeIntegralInRange(0, 20))
                                       : in.ConsumeRandomLengthString(40);
    std::string value = in.ConsumeRandomLengthString(300);
    annotations[key] = trousseau::to_bytes(value);
  }
  const std::string ciphertext = in.ConsumeRemainingBytesAsString();

  auto parsed = env::parse(trousseau::as_bytes(ciphertext), annotations);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.error().code() == trousseau::Code::invalid_argument);
    return 0;
  }
  const env::Envelope& e = parsed.value();

  auto inline_layout = env::encode(e, env::Limits{});
  FUZZ_CHECK(inline_layout.ok());
  FUZZ_CHECK(inline_layout.value().annotations.empty());
  if (annotations.empty()) {
    FUZZ_CHECK(trousseau::as_chars(inline_layout.value().ciphertext) == ciphertext);
  }
  auto again = env::parse(inline_layout.value().ciphertext, {});
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(same(e, again.value()));

  // The v2 layout moves shares into annotations; it may not fit, but when
  // it does it reads back the same.
  auto v2 = env::encode(e, env::Limits{env::kMaxV2Ciphertext, true, env::kMaxV2Annotations});
  if (v2.ok()) {
    FUZZ_CHECK(v2.value().ciphertext.size() <= env::kMaxV2Ciphertext);
    auto v2_again = env::parse(v2.value().ciphertext, v2.value().annotations);
    FUZZ_CHECK(v2_again.ok());
    FUZZ_CHECK(same(e, v2_again.value()));
  } else {
    FUZZ_CHECK(v2.error().code() == trousseau::Code::failed_precondition);
  }
  return 0;
}
