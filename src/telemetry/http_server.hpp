// The telemetry listener: a small HTTP/1.1 server (Boost.Beast) on the
// plugin's io_context for /metrics, /livez and /readyz. GET and HEAD only,
// no request body, headers up to 8 KiB, 10 s per request: a scraper or a
// kubelet probe, never a browser session.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/error.hpp"

namespace trousseau::telemetry {

struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// `path` without the query; `query` what follows '?', or empty.
using HttpHandler = std::function<HttpAnswer(const std::string& path, const std::string& query)>;

class HttpServer {
 public:
  /// Binds now (errors name the address); serves once start() is called.
  static Result<std::unique_ptr<HttpServer>> bind(boost::asio::io_context& io,
                                                  const boost::asio::ip::tcp::endpoint& at,
                                                  HttpHandler handler);
  ~HttpServer();

  void start();
  /// Closes the listener and every open connection. Safe to call twice.
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  struct State;

 private:
  explicit HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace trousseau::telemetry
