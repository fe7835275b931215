#include "support/tcp_proxy.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <atomic>
#include <future>
#include <list>
#include <thread>

namespace trousseau::testkit {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// One client connection and its upstream; both closed together.
struct Link : std::enable_shared_from_this<Link> {
  explicit Link(tcp::socket c) : client(std::move(c)), upstream(client.get_executor()) {}
  tcp::socket client;
  tcp::socket upstream;
  std::array<char, 16384> up_buffer{}, down_buffer{};

  void close() {
    boost::system::error_code ignored;
    // A reset, not a polite close: what a cut network cable looks like to
    // the side that still writes.
    client.set_option(asio::socket_base::linger(true, 0), ignored);
    client.close(ignored);
    upstream.close(ignored);
  }

  void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buffer) {
    from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer](
                                                   boost::system::error_code ec, std::size_t n) {
      if (ec) return self->close();
      asio::async_write(to, asio::buffer(buffer.data(), n),
                        [self, &from, &to, &buffer](boost::system::error_code ec, std::size_t) {
                          if (ec) return self->close();
                          self->pump(from, to, buffer);
                        });
    });
  }
};

}  // namespace

struct TcpProxy::State : std::enable_shared_from_this<TcpProxy::State> {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  tcp::endpoint upstream;
  bool cut = false;                         // on the io thread only
  std::list<std::weak_ptr<Link>> links;     // on the io thread only
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
    auto link = std::make_shared<Link>(std::move(socket));
    if (cut) return link->close();
    links.remove_if([](const std::weak_ptr<Link>& l) { return l.expired(); });
    links.push_back(link);
    link->upstream.async_connect(upstream, [link](boost::system::error_code ec) {
      if (ec) return link->close();
      link->pump(link->client, link->upstream, link->up_buffer);
      link->pump(link->upstream, link->client, link->down_buffer);
    });
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
    for (auto& weak : s->links) {
      if (auto link = weak.lock()) link->close();
    }
    s->links.clear();
  });
  // With the acceptor and every socket closed, their handlers complete
  // (aborted) and run() returns: nothing is left holding the state.
  state_->thread.join();
}

std::uint16_t TcpProxy::port() const { return state_->acceptor.local_endpoint().port(); }

std::string TcpProxy::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port()) + "/";
}

void TcpProxy::cut() {
  state_->run_there([s = state_.get()] {
    s->cut = true;
    for (auto& weak : s->links) {
      if (auto link = weak.lock()) link->close();
    }
    s->links.clear();
  });
}

void TcpProxy::restore() {
  state_->run_there([s = state_.get()] { s->cut = false; });
}

std::size_t TcpProxy::accepted() const { return state_->accepted.load(); }

}  // namespace trousseau::testkit
