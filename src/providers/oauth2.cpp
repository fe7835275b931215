#include "providers/oauth2.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

#include "common/text.hpp"

namespace trousseau::providers {

Result<AccessToken> parse_token_response(std::string& body, Clock::time_point asked) {
  alignas(std::max_align_t) unsigned char arena[8192];
  Result<AccessToken> result = unavailable("malformed token answer");
  {
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, &mr);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      const boost::json::value* token = o.if_contains("access_token");
      const boost::json::value* life = o.if_contains("expires_in");
      std::optional<std::int64_t> seconds;
      if (life != nullptr && life->is_int64()) seconds = life->as_int64();
      if (life != nullptr && life->is_uint64()) {  // past int64: held for kMaxTokenLifetime
        seconds = static_cast<std::int64_t>(
            std::min<std::uint64_t>(life->as_uint64(), std::numeric_limits<std::int64_t>::max()));
      }
      if (life != nullptr && life->is_string()) {  // Azure's IMDS sends strings
        std::int64_t n = 0;
        const auto& s = life->as_string();
        auto [p, err] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (err == std::errc() && p == s.data() + s.size()) seconds = n;
      }
      if (token == nullptr || !token->is_string() || token->as_string().empty()) {
        result = unavailable("token answer without access_token");
      } else if (!seconds || *seconds <= 0) {
        result = unavailable("token answer without a positive expires_in");
      } else {
        AccessToken t;
        t.value = SecretBytes(as_bytes(std::string_view(token->as_string())));
        // Held no longer than a day whatever the answer says: a lifetime
        // past that is an error of the issuer's (found by fuzzing: 10^18 s
        // overflowed the clock), and asking again early costs one request.
        t.expires = asked + std::min<std::chrono::seconds>(std::chrono::seconds(*seconds),
                                                           kMaxTokenLifetime);
        result = std::move(t);
      }
    }
  }
  secure_wipe(std::span<std::uint8_t>(arena, sizeof arena));
  secure_wipe(body);
  return result;
}

Error map_token_error(const http::Response& r) {
  std::string what = "HTTP " + std::to_string(r.status);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (const auto* e = o.if_contains("error"); e != nullptr && e->is_string()) {
      what += " " + quote(std::string_view(e->as_string()), 64);
    }
    if (const auto* d = o.if_contains("error_description"); d != nullptr && d->is_string()) {
      // "AADSTS7000215: Invalid client secret provided. Trace ID: …": the
      // code and its sentence, never the request's values.
      std::string_view text = d->as_string();
      text = text.substr(0, text.find(" Trace ID"));
      what += ": " + quote(text, 200);
    }
  }
  if (r.status == 400 || r.status == 401 || r.status == 403) {
    return Error(Code::permission_denied, what);
  }
  return unavailable(what);
}

std::string form_encode(std::string_view v) {
  return boost::urls::encode(v, boost::urls::unreserved_chars);
}

Result<std::string_view> trimmed_credential(const Result<SecretBytes>& content,
                                            const std::string& path) {
  if (!content.ok()) return Error(Code::unavailable, content.error().message());
  std::string_view text = as_chars(content->view());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return Error(Code::unavailable, "credential file " + path + " is empty");
  return text;
}

}  // namespace trousseau::providers
