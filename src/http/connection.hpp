// Internal to the HTTP client: one keep-alive connection and the pool of
// idle ones. Not thread-safe by itself: an exchange owns a connection while
// it uses it, and the pool hands it over under its mutex.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "http/client.hpp"
#include "http/tls.hpp"

namespace trousseau::http {

class Connection {
 public:
  Connection(const asio::any_io_executor& io, asio::ssl::context& tls, const Url& url);

  /// SNI and host name (or IP address) verification for this peer.
  Error prepare_tls(const std::string& host);
  /// Aborts whatever is in flight: resolve, connect, handshake, read, write.
  void close();
  /// Overwrites the read buffer's storage (after a sensitive exchange).
  void scrub();

  /// Runs f on the TLS stream or on the bare socket, as the URL asked.
  template <typename F>
  void visit(F&& f) {
    if (tls_) {
      f(stream_);
    } else {
      f(stream_.next_layer());
    }
  }

  asio::ip::tcp::resolver& resolver() { return resolver_; }
  asio::ip::tcp::socket& socket() { return stream_.next_layer(); }
  asio::ssl::stream<asio::ip::tcp::socket>& tls_stream() { return stream_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }
  bool tls() const { return tls_; }
  const std::string& origin() const { return origin_; }

  Clock::time_point idle_since{};

 private:
  asio::ip::tcp::resolver resolver_;
  asio::ssl::stream<asio::ip::tcp::socket> stream_;
  boost::beast::flat_buffer buffer_;
  bool tls_;
  std::string origin_;
};

struct Client::Pool {
  Pool(asio::any_io_executor io, ClientOptions options, asio::ssl::context tls);

  /// An idle connection to `origin` that is young enough, or null.
  std::unique_ptr<Connection> take(const std::string& origin);
  /// Keeps `c` for reuse unless the origin already has enough idle ones.
  void give_back(std::unique_ptr<Connection> c);
  std::unique_ptr<Connection> connect_new(const Url& url);
  std::size_t idle_count() const;

  const asio::any_io_executor io;
  const ClientOptions options;  ///< options.backoff is always set
  asio::ssl::context tls;
  /// Exchanges parked on their backoff timer; see Client::waiting_to_retry().
  std::atomic<std::size_t> waiting_to_retry{0};

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace trousseau::http
