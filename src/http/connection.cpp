#include "http/connection.hpp"

#include <cstdint>

#include "common/secret.hpp"

namespace trousseau::http {

Connection::Connection(const asio::any_io_executor& io, asio::ssl::context& tls, const Url& url)
    : resolver_(io), stream_(io, tls), tls_(url.tls()), origin_(url.origin()) {}

Error Connection::prepare_tls(const std::string& host) {
  return verify_peer(stream_, host);
}

void Connection::close() {
  boost::system::error_code ec;
  resolver_.cancel();
  stream_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.next_layer().close(ec);
}

void Connection::scrub() {
  buffer_.consume(buffer_.size());
  auto storage = buffer_.prepare(buffer_.capacity());
  secure_wipe({static_cast<std::uint8_t*>(storage.data()), storage.size()});
}

Client::Pool::Pool(asio::any_io_executor io_, ClientOptions options_, asio::ssl::context tls_)
    : io(std::move(io_)), options(std::move(options_)), tls(std::move(tls_)) {}

std::unique_ptr<Connection> Client::Pool::take(const std::string& origin) {
  std::lock_guard lock(mutex_);
  auto it = idle_.find(origin);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = Clock::now();
  while (!list.empty()) {
    std::unique_ptr<Connection> c = std::move(list.back());
    list.pop_back();
    if (now - c->idle_since < options.idle_timeout) return c;
    c->close();  // too old: the server has probably closed it already
  }
  return nullptr;
}

void Client::Pool::give_back(std::unique_ptr<Connection> c) {
  c->idle_since = Clock::now();
  std::lock_guard lock(mutex_);
  auto& list = idle_[c->origin()];
  if (list.size() >= options.max_idle_per_origin) {
    c->close();
    return;
  }
  list.push_back(std::move(c));
}

std::unique_ptr<Connection> Client::Pool::connect_new(const Url& url) {
  return std::make_unique<Connection>(io, tls, url);
}

std::size_t Client::Pool::idle_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [origin, list] : idle_) n += list.size();
  return n;
}


}  // namespace trousseau::http
