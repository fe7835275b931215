// The OAuth 2.0 token answers shared by the Azure (Entra, IMDS) and Google
// (OAuth, STS, metadata server) token sources (src/providers/oauth2.cpp),
// and their error answers. Properties: an accepted token is not empty and
// expires no earlier than it was asked for; a non-2xx answer is always
// an error; form_encode() leaves only unreserved characters and '%XX',
// and decoding those gives the value back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cctype>
#include <string>

#include "check.hpp"
#include "providers/oauth2.hpp"
#include "response.hpp"

using namespace trousseau;
using namespace trousseau::providers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0: {
      const Clock::time_point asked{};
      std::string body = in.ConsumeRemainingBytesAsString();
      auto token = parse_token_response(body, asked);
      if (token.ok()) {
        FUZZ_CHECK(token.value().value.size() > 0);
        FUZZ_CHECK(token.value().expires >= asked);
      }
      break;
    }
    case 1: {
      const http::Response r = fuzz::consume_response(in, 300);
      FUZZ_CHECK(!map_token_error(r).ok());
      break;
    }
    default: {
      // Decoding the percent-encoding gives the value back.
      const std::string value = in.ConsumeRemainingBytesAsString();
      const std::string encoded = form_encode(value);
      std::string decoded;
      for (std::size_t i = 0; i < encoded.size(); ++i) {
        const char c = encoded[i];
        if (c == '%') {
          FUZZ_CHECK(i + 2 < encoded.size() &&
                     std::isxdigit(static_cast<unsigned char>(encoded[i + 1])) &&
                     std::isxdigit(static_cast<unsigned char>(encoded[i + 2])));
          decoded += static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16));
          i += 2;
          continue;
        }
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        FUZZ_CHECK(unreserved);
        decoded += c;
      }
      FUZZ_CHECK(decoded == value);
      break;
    }
  }
  return 0;
}
