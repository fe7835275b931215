#include "support/tcp_proxy.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <atomic>
#include <future>
#include <list>
#include <random>
#include <thread>

namespace trousseau::testkit {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Named, not anonymous: TcpProxy::State, which has external linkage, holds
// these (gcc's -Wsubobject-linkage when this file is part of a unity build).
namespace tcp_proxy_detail {

/// What every link consults before moving a chunk; on the io thread only.
struct Faults {
  TcpProxy::Fault fault = TcpProxy::Fault::none;
  std::chrono::milliseconds delay{};
  std::mt19937 random{20261130};
};

/// One client connection and its upstream; both closed together.
struct Link : std::enable_shared_from_this<Link> {
  Link(tcp::socket c, Faults& f)
      : client(std::move(c)), upstream(client.get_executor()), timer(client.get_executor()),
        faults(f) {}
  tcp::socket client;
  tcp::socket upstream;
  asio::steady_timer timer;
  Faults& faults;  // the State's, which outlives every handler (its io_context does)
  std::array<char, 16384> up_buffer{}, down_buffer{};

  void close() {
    boost::system::error_code ignored;
    // A reset, not a polite close: what a cut network cable looks like to
    // the side that still writes.
    client.set_option(asio::socket_base::linger(true, 0), ignored);
    client.close(ignored);
    upstream.close(ignored);
    timer.cancel();
  }

  void start() {
    pump(client, upstream, up_buffer, false);
    pump(upstream, client, down_buffer, true);
  }

  /// Moves what `from` sends to `to`, through the fault in force.
  void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buffer, bool answer) {
    from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer,
                                                answer](boost::system::error_code ec,
                                                        std::size_t n) {
      if (ec) return self->close();
      using Fault = TcpProxy::Fault;
      switch (self->faults.fault) {
        case Fault::refuse:
          return self->close();
        case Fault::blackhole:
          return self->pump(from, to, buffer, answer);  // read on, forward nothing
        case Fault::reset_response:
          if (answer) {
            // A few bytes, then the connection dies under the reader.
            return self->write(to, buffer, std::min<std::size_t>(n, 8), [self] { self->close(); });
          }
          break;
        case Fault::garbage:
          if (answer) {
            for (std::size_t i = 0; i < n; ++i) buffer[i] = static_cast<char>(self->faults.random());
          }
          break;
        case Fault::wrong_plaintext:
          if (answer) alter_plaintext(buffer.data(), n);
          break;
        case Fault::latency:
          self->timer.expires_after(self->faults.delay);
          return self->timer.async_wait([self, &from, &to, &buffer, n,
                                         answer](boost::system::error_code ec) {
            if (ec) return self->close();
            self->write(to, buffer, n, [self, &from, &to, &buffer, answer] {
              self->pump(from, to, buffer, answer);
            });
          });
        case Fault::none:
          break;
      }
      self->write(to, buffer, n,
                  [self, &from, &to, &buffer, answer] { self->pump(from, to, buffer, answer); });
    });
  }

  /// Finds `"Plaintext":"` (AWS KMS) or `"plaintext":"` (Vault Transit),
  /// with or without a space, in the chunk and changes one character of its
  /// value to another base64 character of the same 6 bits' worth of place:
  /// same length, still valid base64, other bytes.
  static void alter_plaintext(char* data, std::size_t n) {
    const std::string_view chunk(data, n);
    for (std::string_view key :
         {std::string_view("\"Plaintext\":\""), std::string_view("\"Plaintext\": \""),
          std::string_view("\"plaintext\":\""), std::string_view("\"plaintext\": \"")}) {
      const std::size_t at = chunk.find(key);
      if (at == std::string_view::npos) continue;
      const std::size_t value = at + key.size();
      const std::size_t end = chunk.find('"', value);
      if (end == std::string_view::npos || end - value < 8) return;
      char& c = data[value + 2];  // inside the first 24-bit group: never padding
      c = c == 'A' ? 'B' : 'A';
      return;
    }
  }

  template <typename Next>
  void write(tcp::socket& to, std::array<char, 16384>& buffer, std::size_t n, Next next) {
    asio::async_write(to, asio::buffer(buffer.data(), n),
                      [self = shared_from_this(), next](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        next();
                      });
  }
};

}  // namespace tcp_proxy_detail

using tcp_proxy_detail::Faults;
using tcp_proxy_detail::Link;

struct TcpProxy::State : std::enable_shared_from_this<TcpProxy::State> {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  tcp::endpoint upstream;
  Faults faults;                         // on the io thread only
  std::list<std::weak_ptr<Link>> links;  // on the io thread only
  std::atomic<std::size_t> accepted{0};
  std::thread thread;

  void accept() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec,
                                                      tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      if (!ec) self->admit(std::move(socket));
      self->accept();
    });
  }

  void admit(tcp::socket socket) {
    accepted.fetch_add(1);
    auto link = std::make_shared<Link>(std::move(socket), faults);
    if (faults.fault == Fault::refuse) return link->close();
    links.remove_if([](const std::weak_ptr<Link>& l) { return l.expired(); });
    links.push_back(link);
    link->upstream.async_connect(upstream, [link](boost::system::error_code ec) {
      if (ec) return link->close();
      link->start();
    });
  }

  void close_all() {
    for (auto& weak : links) {
      if (auto link = weak.lock()) link->close();
    }
    links.clear();
  }

  /// Runs `f` on the io thread and waits for it.
  template <typename F>
  void run_there(F f) {
    std::promise<void> done;
    asio::post(io, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
};

TcpProxy::TcpProxy(std::uint16_t upstream_port) : state_(std::make_shared<State>()) {
  state_->upstream = tcp::endpoint(asio::ip::address_v4::loopback(), upstream_port);
  state_->accept();
  state_->thread = std::thread([s = state_.get()] { s->io.run(); });
}

TcpProxy::~TcpProxy() {
  state_->run_there([s = state_.get()] {
    boost::system::error_code ignored;
    s->acceptor.close(ignored);
    s->close_all();
  });
  // With the acceptor and every socket closed, their handlers complete
  // (aborted) and run() returns: nothing is left holding the state.
  state_->thread.join();
}

std::uint16_t TcpProxy::port() const { return state_->acceptor.local_endpoint().port(); }

std::string TcpProxy::host_port() const { return "127.0.0.1:" + std::to_string(port()); }

std::string TcpProxy::endpoint() const { return "http://" + host_port() + "/"; }

void TcpProxy::set_fault(Fault fault, std::chrono::milliseconds delay) {
  state_->run_there([s = state_.get(), fault, delay] {
    s->faults.fault = fault;
    s->faults.delay = delay;
    if (fault == Fault::refuse) s->close_all();
  });
}

std::size_t TcpProxy::accepted() const { return state_->accepted.load(); }

std::size_t TcpProxy::open_sockets() const {
  std::size_t n = 0;
  state_->run_there([s = state_.get(), &n] {
    for (const auto& weak : s->links) {
      if (auto link = weak.lock()) n += link->client.is_open() + link->upstream.is_open();
    }
  });
  return n;
}

}  // namespace trousseau::testkit
