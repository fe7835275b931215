#include "providers/awskms/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <stdexcept>

namespace trousseau::providers::awskms::sigv4 {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Decodes %XX; anything malformed is kept literally (and re-encoded later).
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

/// RFC 3986 5.2.4, plus the removal of empty segments AWS expects.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    pos = next + 1;
  }
  std::string result = "/";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result += '/';
    result += out[i];
  }
  if (!out.empty() && path.back() == '/') result += '/';
  return result;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// Trims and collapses runs of spaces and tabs into one space.
std::string trim_all(std::string_view v) {
  std::string out;
  bool blank = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      blank = !out.empty();
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

bool never_signed(std::string_view lname) {
  return lname == "authorization" || lname == "user-agent" || lname == "expect" ||
         lname == "transfer-encoding" || lname == "x-amzn-trace-id";
}

std::string sha256_hex(std::string_view data) { return hex_encode(sha256({as_bytes(data)})); }

void hmac(ByteView key, std::string_view msg, std::uint8_t out[32]) {
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len) == nullptr ||
      len != 32) {
    throw std::runtime_error("HMAC-SHA256 unavailable in OpenSSL");  // broken install
  }
}

}  // namespace

std::string uri_encode(std::string_view bytes, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string canonical_path(std::string_view wire_path) {
  if (wire_path.empty()) return "/";
  return uri_encode(remove_dot_segments(wire_path), true);
}

std::string canonical_query(std::string_view wire_query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t pos = 0;
  while (pos <= wire_query.size() && !wire_query.empty()) {
    std::size_t next = wire_query.find('&', pos);
    if (next == std::string_view::npos) next = wire_query.size();
    std::string_view pair = wire_query.substr(pos, next - pos);
    if (!pair.empty()) {
      std::size_t eq = pair.find('=');
      std::string_view key = pair.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      pairs.emplace_back(uri_encode(percent_decode(key), false),
                         uri_encode(percent_decode(value), false));
    }
    pos = next + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

Canonical canonical_request(std::string_view method, std::string_view wire_path,
                            std::string_view wire_query, const std::vector<http::Header>& headers,
                            std::string_view payload) {
  std::map<std::string, std::string> canon;  // sorted by lower-case name
  for (const http::Header& h : headers) {
    std::string name = lower(trim_all(h.name));
    if (never_signed(name)) continue;
    auto [it, fresh] = canon.try_emplace(name, trim_all(h.value));
    if (!fresh) it->second += "," + trim_all(h.value);
  }
  Canonical c;
  std::string header_block;
  for (const auto& [name, value] : canon) {
    header_block += name + ":" + value + "\n";
    if (!c.signed_headers.empty()) c.signed_headers += ';';
    c.signed_headers += name;
  }
  c.request = std::string(method) + "\n" + canonical_path(wire_path) + "\n" +
              canonical_query(wire_query) + "\n" + header_block + "\n" + c.signed_headers + "\n" +
              sha256_hex(payload);
  return c;
}

std::string amz_date(WallClock::time_point t) {
  std::time_t secs = WallClock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[17];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request) {
  return std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" + std::string(scope) +
         "\n" + sha256_hex(canonical_request);
}

SecretBytes signing_key(const SecretBytes& secret, std::string_view date,
                        std::string_view region, std::string_view service) {
  SecretBytes seed(4 + secret.size());
  std::copy_n("AWS4", 4, seed.data());
  std::copy(secret.view().begin(), secret.view().end(), seed.data() + 4);
  SecretBytes a(32), b(32);
  hmac(seed.view(), date, a.data());
  hmac(a.view(), region, b.data());
  hmac(b.view(), service, a.data());
  hmac(a.view(), "aws4_request", b.data());
  return b;
}

std::string sign(std::string_view method, std::string_view wire_path, std::string_view wire_query,
                 std::vector<http::Header>& headers, std::string_view payload,
                 const Credentials& credentials, std::string_view region,
                 std::string_view service, WallClock::time_point now) {
  const std::string date_time = amz_date(now);
  const std::string date = date_time.substr(0, 8);
  std::erase_if(headers, [](const http::Header& h) {
    return http::iequals(h.name, "x-amz-date") || http::iequals(h.name, "authorization") ||
           http::iequals(h.name, "x-amz-security-token");
  });
  headers.push_back({"X-Amz-Date", date_time});
  if (!credentials.session_token.empty()) {
    headers.push_back({"X-Amz-Security-Token", std::string(as_chars(credentials.session_token.view()))});
  }
  Canonical c = canonical_request(method, wire_path, wire_query, headers, payload);
  const std::string scope =
      date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string sts = string_to_sign(date_time, scope, c.request);
  SecretBytes key = signing_key(credentials.secret_access_key, date, region, service);
  std::uint8_t sig[32];
  hmac(key.view(), sts, sig);
  return std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + scope +
         ", SignedHeaders=" + c.signed_headers + ", Signature=" + hex_encode(sig);
}

void sign(http::Request& request, const Credentials& credentials, std::string_view region,
          std::string_view service, WallClock::time_point now) {
  if (request.header("host") == nullptr) request.headers.push_back({"Host", request.url.host_header()});
  std::string auth = sign(request.method, request.url.path(), request.url.query(), request.headers,
                          request.body, credentials, region, service, now);
  request.headers.push_back({"Authorization", std::move(auth)});
}

}  // namespace trousseau::providers::awskms::sigv4
