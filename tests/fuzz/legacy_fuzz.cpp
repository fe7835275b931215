// The original Trousseau's ciphertexts (src/envelope/legacy.cpp).
// Properties: what parse_legacy() accepts, looks_legacy() recognises; the
// parts written out again as the original wrote them are the input (base64
// is canonical, one line per part, each ending in '\n'); and reading that
// text again gives the same parts.
#include <string>

#include "check.hpp"
#include "envelope/legacy.hpp"

namespace env = trousseau::envelope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const trousseau::ByteView input(data, size);
  auto parsed = env::parse_legacy(input);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.error().code() == trousseau::Code::invalid_argument);
    return 0;
  }
  const env::LegacyCiphertext& legacy = parsed.value();
  FUZZ_CHECK(env::looks_legacy(input));
  FUZZ_CHECK(!legacy.parts.empty());

  std::string text;
  if (legacy.format == env::LegacyFormat::trousseau_v1) {
    FUZZ_CHECK(legacy.parts.size() == 1 && legacy.parts[0].origin == "vault");
    text = trousseau::as_chars(legacy.parts[0].ciphertext);
    FUZZ_CHECK(env::vault_ciphertext_version(text) != 0);
  } else {
    for (const env::LegacyPart& part : legacy.parts) {
      text += part.origin + ":-:" + trousseau::base64_encode(part.ciphertext) + "\n";
    }
  }
  std::string_view original = trousseau::as_chars(input);
  // The last line's '\n' is optional in what we read.
  if (legacy.format == env::LegacyFormat::v2_alpha && !original.ends_with('\n')) {
    FUZZ_CHECK(text == std::string(original) + "\n");
  } else {
    FUZZ_CHECK(text == original);
  }

  auto again = env::parse_legacy(trousseau::as_bytes(text));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again.value().format == legacy.format);
  FUZZ_CHECK(again.value().parts.size() == legacy.parts.size());
  for (std::size_t i = 0; i < legacy.parts.size(); ++i) {
    FUZZ_CHECK(again.value().parts[i].origin == legacy.parts[i].origin);
    FUZZ_CHECK(again.value().parts[i].ciphertext == legacy.parts[i].ciphertext);
  }
  return 0;
}
