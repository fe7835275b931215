#include "http/message.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>

namespace trousseau::http {

namespace {

const std::string* find_header(const std::vector<Header>& headers, std::string_view name) {
  auto it = std::find_if(headers.begin(), headers.end(),
                         [&](const Header& h) { return iequals(h.name, name); });
  return it == headers.end() ? nullptr : &it->value;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Result<Url> Url::parse(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return invalid_argument("'" + std::string(text) + "' is not an absolute URL");
  const boost::urls::url_view& u = *parsed;
  Url url;
  url.scheme = u.scheme();
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme != "https" && url.scheme != "http") {
    return invalid_argument("URL '" + std::string(text) + "' must use https (or http)");
  }
  if (u.has_userinfo() || u.has_fragment()) {
    return invalid_argument("URL '" + std::string(text) + "' may not carry user info or a fragment");
  }
  // After an authority the path is empty or starts with '/' (RFC 3986
  // section 3.3). Boost.URL 1.81 breaks that when a name begins with an IPv4
  // address: "127.0.0.1.nip.io" comes back as host 127.0.0.1 and path
  // ".nip.io" (boostorg/url#755). Refuse rather than connect elsewhere.
  const auto path = u.encoded_path();
  if (u.has_authority() && !path.empty() && path.front() != '/') {
    return invalid_argument("URL '" + std::string(text) +
                            "' has a host or port that cannot be read (host names that begin "
                            "with an IPv4 address are not supported)");
  }
  url.host = u.encoded_host_address();
  if (url.host.size() > 2 && url.host.front() == '[' && url.host.back() == ']') {
    url.host = url.host.substr(1, url.host.size() - 2);
  }
  if (url.host.empty()) return invalid_argument("URL '" + std::string(text) + "' has no host");
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) {
      return invalid_argument("URL '" + std::string(text) + "' has an invalid port");
    }
    url.port = u.port_number();
  } else {
    url.port = url.tls() ? 443 : 80;
  }
  url.target = u.encoded_path();
  if (url.target.empty()) url.target = "/";
  if (u.has_query()) url.target += "?" + std::string(u.encoded_query());
  return url;
}

bool Url::loopback() const {
  // Only hosts that cannot lead off the machine. An IP literal must parse
  // strictly (inet_pton: four decimal octets, or IPv6): "127.evil.example",
  // "127.0.0.1.nip.io" and "0x7f.0.0.1" are names that DNS may send anywhere.
  // "localhost" is reserved for loopback (RFC 6761) and answered from
  // /etc/hosts; "localhost." or "x.localhost" may reach DNS, so they are out.
  // ::ffff:127.0.0.1 is out too: it reaches 127.0.0.1 only through a
  // dual-stack socket, and refusing it errs on the side of https.
  if (iequals(host, "localhost")) return true;
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  // 127.0.0.0/8 for IPv4; exactly ::1 for IPv6, not a v4-mapped address.
  return address.is_v4() ? address.to_v4().is_loopback() : address.to_v6().is_loopback();
}

std::string Url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls() ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

std::string Url::origin() const {
  return scheme + "://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string_view Url::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view Url::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

const std::string* Request::header(std::string_view name) const {
  return find_header(headers, name);
}

void Request::set_header(std::string name, std::string value) {
  std::erase_if(headers, [&](const Header& h) { return iequals(h.name, name); });
  headers.push_back({std::move(name), std::move(value)});
}

const std::string* Response::header(std::string_view name) const {
  return find_header(headers, name);
}

}  // namespace trousseau::http
