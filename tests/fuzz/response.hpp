// An HTTP answer made of fuzz input, for the providers' error readers:
// a status, up to two headers that those readers look at, and the body.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <string_view>

#include "http/message.hpp"

namespace trousseau::fuzz {

inline http::Response consume_response(FuzzedDataProvider& in, unsigned lowest = 100) {
  static constexpr std::array<std::string_view, 6> kNames = {
      "Content-Type", "x-amzn-ErrorType", "WWW-Authenticate", "Retry-After", "x-ms-request-id",
      "X-Vault-Index"};
  http::Response r;
  r.status = in.ConsumeIntegralInRange<unsigned>(lowest, 599);
  const int headers = in.ConsumeIntegralInRange(0, 2);
  for (int i = 0; i < headers; ++i) {
    std::string name(kNames[in.ConsumeIntegralInRange<std::size_t>(0, kNames.size() - 1)]);
    r.headers.push_back({std::move(name), in.ConsumeRandomLengthString(200)});
  }
  r.body = in.ConsumeRemainingBytesAsString();
  return r;
}

}  // namespace trousseau::fuzz
