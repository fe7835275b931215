// The HTTP side of every HTTP provider (src/http/): an answer's bytes as
// the client reads them (read_response(), the client's parser and body
// limit), the Retry-After header, and the URLs the providers read from
// configuration and answers (Url::parse). The first byte picks the reader.
// Properties: an accepted answer's body is within the limit, and the
// answer written out again (status, headers, a Content-Length body) reads
// back the same; an accepted URL's origin parses back to the same scheme,
// host and port.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>

#include "check.hpp"
#include "http/response_reader.hpp"

using namespace trousseau;
using namespace trousseau::http;

namespace {

constexpr std::size_t kMaxBody = 4096;

bool framing(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding");
}

std::string write_back(const Response& r) {
  // A status is three digits: 6 is written "006", as it was read.
  char status[8];
  std::snprintf(status, sizeof status, "%03u", r.status);
  std::string out = "HTTP/1.1 " + std::string(status) + " X\r\n";
  for (const Header& h : r.headers) {
    if (!framing(h.name)) out += h.name + ": " + h.value + "\r\n";
  }
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 1)) {
    case 0: {
      const std::string bytes = in.ConsumeRemainingBytesAsString();
      auto response = read_response(bytes, kMaxBody);
      if (!response.ok()) {
        FUZZ_CHECK(response.error().code() == Code::unavailable);
        return 0;
      }
      const Response& r = response.value();
      FUZZ_CHECK(r.body.size() <= kMaxBody);
      if (auto after = retry_after(r)) FUZZ_CHECK(after->count() >= 0 && after->count() <= 999999);

      auto again = read_response(write_back(r), kMaxBody);
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(again.value().status == r.status);
      FUZZ_CHECK(again.value().body == r.body);
      std::vector<Header> before, after;
      for (const Header& h : r.headers) {
        if (!framing(h.name)) before.push_back(h);
      }
      for (const Header& h : again.value().headers) {
        if (!framing(h.name)) after.push_back(h);
      }
      FUZZ_CHECK(before.size() == after.size());
      for (std::size_t i = 0; i < before.size(); ++i) {
        FUZZ_CHECK(before[i].name == after[i].name && before[i].value == after[i].value);
      }
      break;
    }
    default: {
      const std::string text = in.ConsumeRemainingBytesAsString();
      auto url = Url::parse(text);
      if (!url.ok()) {
        FUZZ_CHECK(url.error().code() == Code::invalid_argument);
        return 0;
      }
      const Url& u = url.value();
      FUZZ_CHECK(u.scheme == "https" || u.scheme == "http");
      FUZZ_CHECK(!u.host.empty() && u.port != 0);
      FUZZ_CHECK(!u.target.empty() && u.target.front() == '/');
      (void)u.loopback();
      (void)u.host_header();
      auto back = Url::parse(u.origin());
      FUZZ_CHECK(back.ok());
      FUZZ_CHECK(back.value().scheme == u.scheme && back.value().host == u.host &&
                 back.value().port == u.port);
      break;
    }
  }
  return 0;
}
