#include "telemetry/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <set>
#include <sstream>

#include "common/log.hpp"

namespace trousseau::telemetry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(asio::io_context& io, HttpHandler h) : acceptor(asio::make_strand(io)), handler(std::move(h)) {}

  tcp::acceptor acceptor;
  tcp::endpoint bound;  ///< set by bind(), read-only afterwards
  HttpHandler handler;
  std::mutex mutex;
  bool stopped = false;
  std::set<std::shared_ptr<beast::tcp_stream>> open;  ///< closed by stop()

  void accept();
  void serve(std::shared_ptr<beast::tcp_stream> stream);
  void forget(const std::shared_ptr<beast::tcp_stream>& stream) {
    std::lock_guard lock(mutex);
    open.erase(stream);
  }
};

namespace {

/// One connection: requests in turn until the peer closes, an error, or
/// a request without keep-alive.
struct Connection : std::enable_shared_from_this<Connection> {
  Connection(std::shared_ptr<HttpServer::State> s, std::shared_ptr<beast::tcp_stream> st)
      : state(std::move(s)), stream(std::move(st)) {}

  std::shared_ptr<HttpServer::State> state;
  std::shared_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer{8192};
  std::optional<http::request_parser<http::empty_body>> parser;
  http::response<http::string_body> response;

  void read() {
    parser.emplace();
    parser->header_limit(8192);
    parser->body_limit(0);
    stream->expires_after(std::chrono::seconds(10));
    http::async_read(*stream, buffer, *parser,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec) return close();
    const auto& req = parser->get();
    response = {};
    response.version(req.version());
    response.keep_alive(req.keep_alive());
    response.set(http::field::server, "trousseau");
    response.set(http::field::cache_control, "no-store");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET, HEAD");
      response.set(http::field::content_type, "text/plain; charset=utf-8");
      response.body() = "only GET and HEAD\n";
    } else {
      const std::string target(req.target());
      const auto q = target.find('?');
      HttpAnswer answer;
      try {
        answer = state->handler(target.substr(0, q),
                                q == std::string::npos ? std::string() : target.substr(q + 1));
      } catch (const std::exception& e) {
        answer = {500, "text/plain; charset=utf-8", "internal error\n"};
        log::error("telemetry handler failed", {{"error", e.what()}});
      }
      response.result(answer.status);
      response.set(http::field::content_type, answer.content_type);
      if (req.method() == http::verb::get) response.body() = std::move(answer.body);
    }
    response.prepare_payload();
    http::async_write(*stream, response,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->response.keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->close();
    state->forget(stream);
  }
};

}  // namespace

void HttpServer::State::accept() {
  acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (ec) {
                            if (ec == asio::error::operation_aborted) return;
                            log::warn("telemetry accept failed", {{"error", ec.message()}});
                          } else {
                            auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
                            {
                              std::lock_guard lock(self->mutex);
                              if (self->stopped) return;
                              self->open.insert(stream);
                            }
                            std::make_shared<Connection>(self, stream)->read();
                          }
                          self->accept();
                        });
}

Result<std::unique_ptr<HttpServer>> HttpServer::bind(asio::io_context& io,
                                                     const tcp::endpoint& at, HttpHandler handler) {
  auto state = std::make_shared<State>(io, std::move(handler));
  beast::error_code ec;
  state->acceptor.open(at.protocol(), ec);
  if (!ec) state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(at, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::ostringstream where;
    where << at;
    return unavailable("telemetry cannot listen on " + where.str() + ": " + ec.message());
  }
  state->bound = state->acceptor.local_endpoint(ec);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  asio::dispatch(state_->acceptor.get_executor(), [s = state_] { s->accept(); });
}

void HttpServer::stop() {
  std::set<std::shared_ptr<beast::tcp_stream>> open;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped) return;
    state_->stopped = true;
    open.swap(state_->open);
  }
  // Each on its own strand: closing there cancels whatever it has pending.
  asio::dispatch(state_->acceptor.get_executor(), [s = state_] {
    beast::error_code ignored;
    s->acceptor.close(ignored);
  });
  for (const auto& stream : open) {
    asio::dispatch(stream->get_executor(), [stream] {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->close();
    });
  }
}

tcp::endpoint HttpServer::local_endpoint() const { return state_->bound; }

}  // namespace trousseau::telemetry
