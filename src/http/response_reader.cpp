#include "http/response_reader.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

namespace trousseau::http {

namespace beast = boost::beast;

Response take_response(WireResponse& wire) {
  Response response;
  response.status = wire.result_int();
  for (const auto& field : wire) {
    response.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  response.body = std::move(wire.body());
  return response;
}

Result<Response> read_response(std::string_view bytes, std::size_t max_body) {
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(max_body);
  parser.eager(true);
  boost::system::error_code ec;
  std::string_view rest = bytes;
  while (!rest.empty() && !parser.is_done()) {
    const std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == beast::http::error::need_more) {
      ec = {};
      break;
    }
    if (ec) return unavailable("HTTP response: " + ec.message());
    if (used == 0) break;
    rest.remove_prefix(used);
  }
  if (!parser.is_done()) {
    // As Beast's read does at the end of the stream: nothing, or a partial
    // header, is end_of_stream; a body that runs to the end ends here.
    if (!parser.got_some()) {
      return unavailable("HTTP response: " +
                         make_error_code(beast::http::error::end_of_stream).message());
    }
    parser.put_eof(ec);
    if (ec) return unavailable("HTTP response: " + ec.message());
    if (!parser.is_done()) return unavailable("HTTP response: incomplete");
  }
  return take_response(parser.get());
}

std::optional<std::chrono::seconds> retry_after(const Response& response) {
  const std::string* h = response.header("Retry-After");
  if (h == nullptr || h->empty() || h->size() > 6) return std::nullopt;
  long seconds = 0;
  for (char c : *h) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::seconds(seconds);
}

}  // namespace trousseau::http
