// The telemetry listener: answers GET and HEAD through its handler, refuses
// other methods and oversized headers, and stops cleanly.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <thread>

#include "config/listen.hpp"
#include "support/http_get.hpp"
#include "support/wait.hpp"
#include "telemetry/http_server.hpp"

namespace trousseau::telemetry {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto at = config::parse_listen_address("127.0.0.1:0");
    ASSERT_TRUE(at.ok());
    auto s = HttpServer::bind(io_, at.value(), [](const std::string& path, const std::string& q) {
      if (path == "/hello") return HttpAnswer{200, "text/plain", "hello " + q + "\n"};
      if (path == "/boom") throw std::runtime_error("handler bug");
      return HttpAnswer{404, "text/plain", "nope\n"};
    });
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(s.value());
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    thread_.join();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpServerTest, AnswersGetWithPathAndQuery) {
  auto r = testkit::http_get(server_->local_endpoint(), "/hello?verbose");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "hello verbose\n");
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(testkit::http_get(server_->local_endpoint(), "/other").status, 404u);
}

TEST_F(HttpServerTest, HeadHasNoBody) {
  auto r = testkit::http_request(server_->local_endpoint(), "HEAD", "/hello");
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpServerTest, RefusesOtherMethods) {
  auto r = testkit::http_request(server_->local_endpoint(), "POST", "/hello",
                                 "Content-Length: 0\r\n");
  EXPECT_EQ(r.status, 405u);
}

TEST_F(HttpServerTest, OversizedHeadersCloseTheConnectionWithoutAnAnswer) {
  const std::string huge = "X-Big: " + std::string(20000, 'x') + "\r\n";
  auto r = testkit::http_request(server_->local_endpoint(), "GET", "/hello", huge);
  EXPECT_EQ(r.status, 0u);
  // And the listener still serves.
  EXPECT_EQ(testkit::http_get(server_->local_endpoint(), "/hello").status, 200u);
}

TEST_F(HttpServerTest, AHandlerThatThrowsGivesA500AndTheListenerLives) {
  EXPECT_EQ(testkit::http_get(server_->local_endpoint(), "/boom").status, 500u);
  EXPECT_EQ(testkit::http_get(server_->local_endpoint(), "/hello").status, 200u);
}

TEST_F(HttpServerTest, StopClosesTheListener) {
  const auto at = server_->local_endpoint();
  server_->stop();
  server_->stop();  // twice is fine
  EXPECT_TRUE(testkit::wait_until([&] { return testkit::http_get(at, "/hello").status == 0; }));
}

}  // namespace
}  // namespace trousseau::telemetry
