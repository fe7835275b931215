// The KMIP client's deadline and cancellation against a peer that accepts
// the connection and then says nothing: the stalled TLS handshake must be
// cut, the socket closed, and the call completed once.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <future>

#include "providers/kmip/client.hpp"
#include "support/provider_runner.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::kmip {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Accepts connections on a loopback port and never writes a byte.
class SilentPeer {
 public:
  explicit SilentPeer(asio::io_context& io)
      : acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t accepted() const { return accepted_.load(); }
  /// Whether every accepted connection has been closed by the client.
  bool all_closed_by_client() {
    for (auto& s : sockets_) {
      char byte;
      boost::system::error_code ec;
      s->non_blocking(true);
      // ClientHello bytes may be waiting; drain, then look for the EOF.
      while (s->read_some(asio::buffer(&byte, 1), ec) == 1) {
      }
      if (ec != asio::error::eof && ec != asio::error::connection_reset) return false;
    }
    return true;
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      sockets_.push_back(std::make_unique<asio::ip::tcp::socket>(std::move(s)));
      accepted_.fetch_add(1);
      testkit::notify_waiters();
      accept();
    });
  }
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> sockets_;  ///< on the io thread only
  std::atomic<std::size_t> accepted_{0};
};

class KmipClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki = testkit::make_test_pki(dir.path().string(), {"IP:127.0.0.1"});
    cert = testkit::make_test_client_cert(dir.path().string(), "trousseau");
  }
  std::shared_ptr<Client> client(std::uint16_t port) {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls = {pki.ca_cert, cert.cert, cert.key};
    o.versions = {our_versions.begin(), our_versions.end()};
    Result<std::shared_ptr<Client>> c = Client::create(runner.io.get_executor(), o);
    EXPECT_TRUE(c.ok()) << c.error().message();
    return c.ok() ? *c : nullptr;
  }
  /// Starts one call of an operation whose completion lands in the future.
  std::pair<std::shared_ptr<providers::Operation<Error>>, std::future<Error>> call(Client& c,
                                                                         Clock::time_point deadline) {
    auto promise = std::make_shared<std::promise<Error>>();
    std::future<Error> f = promise->get_future();
    auto op = std::make_shared<providers::Operation<Error>>(runner.io.get_executor(), nullptr,
                                                 [promise](Error e) { promise->set_value(e); });
    asio::post(op->strand(), [op, &c, deadline] {
      c.call(
          op,
          [](ProtocolVersion v, Bytes& out) {
            get_attributes(out, v, "1");
            return Error();
          },
          deadline, [op](Error e, ProtocolVersion, SecretBytes) { op->complete(std::move(e)); });
    });
    return {op, std::move(f)};
  }

  testkit::TempDir dir;
  testkit::TestPki pki;
  testkit::TestClientCert cert;
  testkit::ProviderRunner runner;
};

TEST_F(KmipClientTest, TheDeadlineCutsAStalledHandshakeAndClosesTheSocket) {
  SilentPeer peer(runner.io);
  auto c = client(peer.port());
  ASSERT_TRUE(c);
  auto [op, done] = call(*c, Clock::now() + 300ms);
  Error e = done.get();
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_NE(e.message().find("TLS handshake"), std::string::npos) << e.message();
  EXPECT_EQ(peer.accepted(), 1u);
  std::promise<bool> closed;
  asio::post(runner.io, [&] { closed.set_value(peer.all_closed_by_client()); });
  EXPECT_TRUE(closed.get_future().get());
  EXPECT_EQ(c->idle_count(), 0u);  // never pooled
}

TEST_F(KmipClientTest, ACancellationCutsAStalledHandshake) {
  SilentPeer peer(runner.io);
  auto c = client(peer.port());
  ASSERT_TRUE(c);
  asio::cancellation_signal cancel;
  auto promise = std::make_shared<std::promise<Error>>();
  auto op = std::make_shared<providers::Operation<Error>>(
      runner.io.get_executor(), nullptr,
      asio::bind_cancellation_slot(cancel.slot(), [promise](Error e) { promise->set_value(e); }));
  asio::post(op->strand(), [op, &c] {
    op->listen_for_cancellation();
    c->call(
        op,
        [](ProtocolVersion v, Bytes& out) {
          get_attributes(out, v, "1");
          return Error();
        },
        Clock::now() + 60s, [op](Error e, ProtocolVersion, SecretBytes) { op->complete(std::move(e)); });
  });
  ASSERT_TRUE(testkit::wait_until([&] { return peer.accepted() == 1; }));
  asio::post(op->strand(), [&cancel] { cancel.emit(asio::cancellation_type::terminal); });
  Error e = promise->get_future().get();
  EXPECT_EQ(e.code(), Code::cancelled) << e.message();
}

TEST_F(KmipClientTest, ARefusedConnectionIsUnavailableNamingTheEndpoint) {
  const std::uint16_t port = [] {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  }();  // closed again: nothing listens there
  auto c = client(port);
  ASSERT_TRUE(c);
  auto [op, done] = call(*c, Clock::now() + 10s);
  Error e = done.get();
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_NE(e.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("connect"), std::string::npos) << e.message();
}

TEST_F(KmipClientTest, AMissingClientKeyIsAConfigurationError) {
  ClientOptions o;
  o.host = "127.0.0.1";
  o.tls = {pki.ca_cert, cert.cert, dir.file("missing.key")};
  Result<std::shared_ptr<Client>> c = Client::create(runner.io.get_executor(), o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::failed_precondition);
}

}  // namespace
}  // namespace trousseau::providers::kmip
