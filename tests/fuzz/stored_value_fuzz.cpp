// What kube-apiserver stores in etcd around an envelope
// (src/kms/stored_value.cpp), as `trousseau inspect` reads it. Properties:
// every refusal is invalid_argument; an accepted value has a provider name
// and its envelope; apiserver's read checks never crash and, when they
// pass, the envelope parser is reached with the value's annotations.
#include "check.hpp"
#include "envelope/format.hpp"
#include "kms/stored_value.hpp"

namespace kms = trousseau::kms;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = kms::parse_stored_value({data, size});
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.error().code() == trousseau::Code::invalid_argument);
    return 0;
  }
  const kms::StoredValue& value = parsed.value();
  FUZZ_CHECK(!value.provider.empty());
  FUZZ_CHECK(value.api == kms::StoredApi::v2 || value.annotations.empty());
  (void)kms::dek_source_type_name(value.dek_source_type);
  const trousseau::Error checked = kms::check_stored_value(value);
  if (value.api == kms::StoredApi::v1) FUZZ_CHECK(checked.ok());
  if (checked.ok()) {
    auto envelope = trousseau::envelope::parse(value.encrypted_dek, value.annotations);
    FUZZ_CHECK(envelope.ok() || envelope.error().code() == trousseau::Code::invalid_argument);
  }
  return 0;
}
