// A plain HTTP/1.1 client for the telemetry listener: one request per
// connection, as a scraper or a kubelet probe makes it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

namespace trousseau::testkit {

struct HttpReply {
  unsigned status = 0;  ///< 0: no answer (connection refused or closed)
  std::string content_type;
  std::string body;
};

HttpReply http_request(const boost::asio::ip::tcp::endpoint& at, const std::string& method,
                       const std::string& target, const std::string& extra_headers = {});
inline HttpReply http_get(const boost::asio::ip::tcp::endpoint& at, const std::string& target) {
  return http_request(at, "GET", target);
}

/// The value of one sample of the exposition `text`, e.g.
/// sample(text, R"(trousseau_requests_total{api="v2",code="OK",method="Encrypt"})").
/// Labels in the order prometheus-cpp writes them (sorted by name). -1 when absent.
double sample(const std::string& text, const std::string& series);

}  // namespace trousseau::testkit
