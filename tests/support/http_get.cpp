#include "support/http_get.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sstream>

namespace trousseau::testkit {

namespace beast = boost::beast;
namespace http = beast::http;

HttpReply http_request(const boost::asio::ip::tcp::endpoint& at, const std::string& method,
                       const std::string& target, const std::string& extra_headers) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(at, ec);
  if (ec) return {};
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" +
                        extra_headers + "Connection: close\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request), ec);
  if (ec) return {};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  if (method == "HEAD") parser.skip(true);
  http::read(socket, buffer, parser, ec);
  if (ec) return {};
  const auto& res = parser.get();
  return {res.result_int(), std::string(res[http::field::content_type]), res.body()};
}

double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

}  // namespace trousseau::testkit
