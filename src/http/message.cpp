#include "http/message.hpp"

#include <algorithm>
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
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
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
