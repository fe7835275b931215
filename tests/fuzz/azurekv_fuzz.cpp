// What Azure sends the azurekv provider (src/providers/azurekv/): key
// bundles, key operation results, error bodies and 401 challenges, the
// versioned key ids in answers, and the wrapped-share layout read back
// from envelopes; plus Entra's scope handling. The first byte picks the
// reader. Properties: error messages are cut at 300 bytes; a non-2xx
// answer is always an error; a kid is accepted only for our vault, and
// splits back into the text it came from; a wrapped share that parses
// joins back to the same bytes (one layout).
#include <fuzzer/FuzzedDataProvider.h>

#include "check.hpp"
#include "providers/azurekv/azurekv_provider.hpp"
#include "providers/azurekv/entra.hpp"
#include "providers/azurekv/kv_messages.hpp"
#include "providers/azurekv/share_binding.hpp"
#include "response.hpp"

using namespace trousseau;
using namespace trousseau::providers::azurekv;

namespace {

const http::Url& vault() {
  static const http::Url url = http::Url::parse("https://fuzz-vault.vault.azure.net").value();
  return url;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0: {
      const bool gcm = in.ConsumeBool();
      auto bundle = parse_key_bundle(in.ConsumeRemainingBytesAsString(),
                                     gcm ? "encrypt" : "wrapKey", gcm ? "decrypt" : "unwrapKey");
      if (bundle.ok()) FUZZ_CHECK(!bundle.value().kid.empty());
      break;
    }
    case 1: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto result = parse_operation_result(body);
      if (result.ok()) FUZZ_CHECK(!result.value().kid.empty());
      break;
    }
    case 2: {
      const KvError e = parse_kv_error(in.ConsumeRemainingBytesAsString());
      FUZZ_CHECK(e.message.size() <= 300);
      break;
    }
    case 3: {
      const bool opening = in.ConsumeBool();
      const http::Response r = fuzz::consume_response(in, 300);
      FUZZ_CHECK(!map_kv_error("unwrapkey", r, opening).ok());
      (void)challenge_resource(r);
      break;
    }
    case 4: {
      const std::string text = in.ConsumeRemainingBytesAsString();
      auto kid = parse_kid(text, vault());
      if (kid) {
        FUZZ_CHECK(kid->version.size() == 32);
        FUZZ_CHECK(!kid->name.empty());
        FUZZ_CHECK(kid->origin + "/keys/" + kid->name + "/" + kid->version == text);
      }
      break;
    }
    case 5: {
      const std::vector<std::uint8_t> bytes = in.ConsumeRemainingBytes<std::uint8_t>();
      auto parts = parse_wrapped(bytes);
      if (parts.ok()) {
        const WrappedParts& p = parts.value();
        FUZZ_CHECK(join_wrapped(p.algorithm, p.remote, p.sealed) == bytes);
      } else {
        FUZZ_CHECK(parts.error().code() == Code::integrity);
      }
      break;
    }
    case 6: {
      const std::string configured = in.ConsumeRandomLengthString(20);
      auto a = choose_algorithm(configured, in.ConsumeRemainingBytesAsString());
      if (a.ok()) {
        FUZZ_CHECK(algorithm_from_name(algorithm_name(a.value())) == a.value());
        FUZZ_CHECK(!wrap_operation(a.value()).empty() && !unwrap_operation(a.value()).empty());
      }
      break;
    }
    default: {
      (void)resource_of_scope(in.ConsumeRemainingBytesAsString());
      break;
    }
  }
  return 0;
}
