// Plain HTTP request and response values, free of any I/O library so that
// signers and parsers can use them without pulling in Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"

namespace trousseau::http {

/// Every request carries an absolute deadline on Trousseau's clock.
using Clock = trousseau::Clock;
using Deadline = Clock::time_point;

/// An absolute http or https URL, split the way a client needs it.
struct Url {
  std::string scheme;  ///< "https" or "http", lower case
  std::string host;    ///< a DNS name or an IP literal, without brackets
  std::uint16_t port = 0;
  std::string target = "/";  ///< path and query as sent on the request line

  /// Parses "https://host[:port][/path][?query]"; no user info, no fragment.
  static Result<Url> parse(std::string_view text);

  bool tls() const { return scheme == "https"; }
  /// Exactly "localhost" (any case), an IPv4 literal in 127.0.0.0/8, or the
  /// IPv6 literal ::1: plain http may be acceptable there. Names that merely
  /// look like these ("127.evil.example", "localhost.") are not loopback.
  bool loopback() const;
  /// The Host header value: the port is omitted when it is the default one.
  std::string host_header() const;
  /// "scheme://host:port", the key of the connection pool.
  std::string origin() const;
  std::string_view path() const;
  std::string_view query() const;  ///< without the '?'
};

struct Header {
  std::string name;
  std::string value;
};

struct Response;

struct Request {
  std::string method = "GET";
  Url url;
  std::vector<Header> headers;  ///< sent as given; Host is added if absent
  std::string body;
  /// The body (or its response), or the Authorization header, holds secret
  /// material: the client wipes the buffers it owns once the exchange is
  /// over. Best effort: TLS library buffers are out of reach.
  bool sensitive = false;
  /// Extra retry rule on top of 429 and 5xx, e.g. AWS's throttling errors
  /// that arrive as HTTP 400. Must be cheap and thread-safe.
  std::function<bool(const Response&)> retry_if;

  /// The first header with this name (case-insensitive), if any.
  const std::string* header(std::string_view name) const;
  void set_header(std::string name, std::string value);  ///< replaces all
};

struct Response {
  unsigned status = 0;
  std::vector<Header> headers;
  std::string body;

  const std::string* header(std::string_view name) const;
};

bool iequals(std::string_view a, std::string_view b);

}  // namespace trousseau::http
