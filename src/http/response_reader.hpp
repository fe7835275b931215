// How the client turns the bytes of an HTTP/1.1 answer into a Response:
// Beast's parser with the client's body limit, then the status, every
// header in order and the body. The exchange (exchange.cpp) reads off its
// socket; read_response() reads the same way off a buffer, so that the
// fuzz target (tests/fuzz/http_response_fuzz.cpp) and tests reach the
// parsing of remote input without a network.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <optional>
#include <string_view>

#include "common/error.hpp"
#include "http/message.hpp"

namespace trousseau::http {

using WireResponse = boost::beast::http::response<boost::beast::http::string_body>;

/// Our Response from Beast's, the body moved out of `wire`.
Response take_response(WireResponse& wire);

/// One whole response from exactly `bytes` (the end of `bytes` is the end
/// of the stream), its body at most `max_body` bytes. Code::unavailable,
/// naming Beast's reason, when it is malformed, too large or incomplete.
Result<Response> read_response(std::string_view bytes, std::size_t max_body);

/// The Retry-After header as a number of seconds, up to 6 digits (the
/// HTTP-date form is not used by the KMSes we talk to, and is ignored).
std::optional<std::chrono::seconds> retry_after(const Response& response);

}  // namespace trousseau::http
