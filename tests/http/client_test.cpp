// Tests of src/http/ (they live here until tests/http/ has a meson.build).
#include "http/client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <atomic>
#include <future>
#include <thread>

#include "support/local_http_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

namespace trousseau::http {
namespace {

using namespace std::chrono_literals;
using testing::LocalHttpServer;
using testing::Reply;
using testing::respond;

struct Outcome {
  Error error;
  Response response;
  std::chrono::milliseconds elapsed{};
};

Request get(const std::string& url) {
  Request r;
  r.url = Url::parse(url).value();
  return r;
}

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest() : work_(asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~HttpClientTest() override {
    work_.reset();
    io.stop();
    thread_.join();
  }

  static ClientOptions plain(RetryPolicy retry = {3, 5ms, 20ms}) {
    ClientOptions o;
    o.allow_plain_http = true;
    o.retry = retry;
    return o;
  }

  std::unique_ptr<Client> make(ClientOptions o) {
    auto c = Client::create(io.get_executor(), std::move(o));
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message());
    return c.ok() ? std::move(c).value() : nullptr;
  }

  Outcome call(Client& c, Request r, std::chrono::milliseconds budget = 5s) {
    const auto start = Clock::now();
    auto fut = c.async_request(std::move(r), start + budget, asio::use_future(
        [](Error e, Response resp) { return std::make_pair(std::move(e), std::move(resp)); }));
    auto [e, resp] = fut.get();
    return {std::move(e), std::move(resp),
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start)};
  }

  asio::io_context io;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

TEST_F(HttpClientTest, ReusesAKeepAliveConnection) {
  LocalHttpServer server;
  server.script({respond(200, "hello")});
  auto client = make(plain());
  for (int i = 0; i < 3; ++i) {
    Outcome o = call(*client, get(server.url() + "path?x=1"));
    ASSERT_TRUE(o.error.ok()) << o.error.message();
    EXPECT_EQ(o.response.status, 200u);
    EXPECT_EQ(o.response.body, "hello");
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(client->idle_connections(), 1u);
  EXPECT_EQ(server.seen()[0].target, "/path?x=1");
}

TEST_F(HttpClientTest, RefusesPlainHttpUnlessAllowed) {
  LocalHttpServer server;
  auto client = make(ClientOptions{});
  Outcome o = call(*client, get(server.url()));
  EXPECT_EQ(o.error.code(), Code::failed_precondition);
  EXPECT_EQ(server.accepted(), 0);
}

TEST_F(HttpClientTest, CancellationClosesTheSocketPromptly) {
  LocalHttpServer server;
  server.script({testing::hang()});
  auto client = make(plain());
  asio::cancellation_signal signal;
  std::promise<Outcome> done;
  Clock::time_point cancelled_at;
  client->async_request(
      get(server.url()), Clock::now() + 30s,
      asio::bind_cancellation_slot(signal.slot(), [&](Error e, Response r) {
        done.set_value({std::move(e), std::move(r),
                        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                              cancelled_at)});
      }));
  for (int i = 0; i < 200 && server.requests() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server.requests(), 1);
  asio::post(io, [&] {
    cancelled_at = Clock::now();
    signal.emit(asio::cancellation_type::terminal);
  });
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(1s), std::future_status::ready);
  Outcome o = fut.get();
  EXPECT_EQ(o.error.code(), Code::cancelled) << o.error.message();
  EXPECT_LT(o.elapsed, 100ms);
  EXPECT_TRUE(server.wait_closed_by_client(1, 100ms)) << "the server never saw the close";
}

TEST_F(HttpClientTest, DeadlineClosesTheSocket) {
  LocalHttpServer server;
  server.script({testing::hang()});
  auto client = make(plain());
  Outcome o = call(*client, get(server.url()), 200ms);
  EXPECT_EQ(o.error.code(), Code::deadline_exceeded) << o.error.message();
  EXPECT_GE(o.elapsed, 190ms);
  EXPECT_LT(o.elapsed, 400ms);
  EXPECT_TRUE(server.wait_closed_by_client(1, 500ms));
}

TEST_F(HttpClientTest, RetriesOn500And429ThenSucceeds) {
  LocalHttpServer server;
  server.script({respond(500), respond(429), respond(200, "ok")});
  auto client = make(plain({4, 5ms, 20ms}));
  Outcome o = call(*client, get(server.url()));
  ASSERT_TRUE(o.error.ok()) << o.error.message();
  EXPECT_EQ(o.response.body, "ok");
  EXPECT_EQ(server.requests(), 3);
}

TEST_F(HttpClientTest, GivesUpAfterMaxAttemptsWithUnavailable) {
  LocalHttpServer server;
  server.script({respond(503, "busy")});
  auto client = make(plain({3, 1ms, 5ms}));
  Outcome o = call(*client, get(server.url()));
  EXPECT_EQ(o.error.code(), Code::unavailable);
  EXPECT_NE(o.error.message().find("HTTP 503"), std::string::npos) << o.error.message();
  EXPECT_EQ(o.response.status, 503u);  // the body stays available to the caller
  EXPECT_EQ(server.requests(), 3);
}

TEST_F(HttpClientTest, PersistentThrottlingReturnsTheLastResponse) {
  LocalHttpServer server;
  server.script({respond(429)});
  auto client = make(plain({2, 1ms, 5ms}));
  Outcome o = call(*client, get(server.url()));
  EXPECT_TRUE(o.error.ok());
  EXPECT_EQ(o.response.status, 429u);
  EXPECT_EQ(server.requests(), 2);
}

TEST_F(HttpClientTest, RetryPausesNeverPassTheDeadline) {
  LocalHttpServer server;
  server.script({respond(500)});
  auto client = make(plain({10, 1000ms, 1000ms}));
  Outcome o;
  // With pauses of up to a second, some draw must exceed the budget soon.
  for (int i = 0; i < 5 && server.requests() < 10; ++i) {
    o = call(*client, get(server.url()), 300ms);
    EXPECT_LE(o.elapsed, 320ms);
    EXPECT_TRUE(o.error.code() == Code::unavailable || o.error.code() == Code::deadline_exceeded)
        << o.error.message();
  }
}

TEST_F(HttpClientTest, RetryIfHookRetriesThrottlingIn400) {
  LocalHttpServer server;
  server.script({respond(400, R"({"__type":"ThrottlingException"})"), respond(200, "ok")});
  auto client = make(plain());
  Request r = get(server.url());
  r.retry_if = [](const Response& resp) {
    return resp.status == 400 && resp.body.find("ThrottlingException") != std::string::npos;
  };
  Outcome o = call(*client, std::move(r));
  ASSERT_TRUE(o.error.ok());
  EXPECT_EQ(o.response.status, 200u);
  EXPECT_EQ(server.requests(), 2);
}

TEST_F(HttpClientTest, ClientErrorsAreReturnedToTheCaller) {
  LocalHttpServer server;
  server.script({respond(404, "nope")});
  auto client = make(plain());
  Outcome o = call(*client, get(server.url()));
  EXPECT_TRUE(o.error.ok());
  EXPECT_EQ(o.response.status, 404u);
  EXPECT_EQ(o.response.body, "nope");
  EXPECT_EQ(server.requests(), 1);
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailable) {
  std::uint16_t port;
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto client = make(plain({2, 1ms, 2ms}));
  Outcome o = call(*client, get("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_EQ(o.error.code(), Code::unavailable);
  EXPECT_NE(o.error.message().find("connect"), std::string::npos) << o.error.message();
}

TEST_F(HttpClientTest, ReplacesAKeepAliveConnectionTheServerDropped) {
  LocalHttpServer server;
  Reply dropped = respond(200, "one");
  dropped.drop = true;
  server.script({dropped, respond(200, "two")});
  auto client = make(plain({1, 1ms, 1ms}));  // no retries: only the stale-connection rule
  ASSERT_TRUE(call(*client, get(server.url())).error.ok());
  std::this_thread::sleep_for(50ms);  // let the server's close arrive
  Outcome o = call(*client, get(server.url()));
  ASSERT_TRUE(o.error.ok()) << o.error.message();
  EXPECT_EQ(o.response.body, "two");
  EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, CompletesOnTheHandlersExecutorNeverInline) {
  LocalHttpServer server;
  auto client = make(plain());
  auto strand = asio::make_strand(io);
  std::promise<bool> on_strand;
  bool initiated = false;
  bool inline_call = false;
  asio::post(strand, [&] {
    client->async_request(get(server.url()), Clock::now() + 5s,
                          asio::bind_executor(strand, [&](Error, Response) {
                            inline_call = !initiated;
                            on_strand.set_value(strand.running_in_this_thread());
                          }));
    initiated = true;
  });
  EXPECT_TRUE(on_strand.get_future().get());
  EXPECT_FALSE(inline_call);
}

TEST(HttpClientThreads, ConcurrentRequestsAndCancellationsOnAThreadPool) {
  LocalHttpServer server;
  server.script({respond(200, "ok")});
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { io.run(); });
  ClientOptions o;
  o.allow_plain_http = true;
  o.max_idle_per_origin = 4;
  auto client = Client::create(io.get_executor(), o);
  ASSERT_TRUE(client.ok());
  constexpr int kRequests = 200;
  std::vector<asio::cancellation_signal> signals(kRequests);
  std::atomic<int> ok{0}, cancelled{0}, other{0}, completions{0};
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    auto strand = asio::make_strand(io);
    asio::post(strand, [&, i, strand] {
      (*client)->async_request(
          get(server.url()), Clock::now() + 10s,
          asio::bind_cancellation_slot(
              signals[i].slot(), asio::bind_executor(strand, [&](Error e, Response r) {
                if (e.ok() && r.body == "ok") {
                  ++ok;
                } else if (e.code() == Code::cancelled) {
                  ++cancelled;
                } else {
                  ++other;
                }
                if (++completions == kRequests) all_done.set_value();
              })));
      if (i % 3 == 0) {
        // Cancel from the request's own strand, a little later.
        asio::post(strand, [&, i] { signals[i].emit(asio::cancellation_type::terminal); });
      }
    });
  }
  auto fut = all_done.get_future();
  ASSERT_EQ(fut.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(ok + cancelled, kRequests);
  EXPECT_EQ(other, 0);
  EXPECT_GE(ok, kRequests * 2 / 3 - 1);
  EXPECT_LE((*client)->idle_connections(), 4u);
  client->reset();
  work.reset();
  for (auto& t : threads) t.join();
}

class HttpsClientTest : public HttpClientTest {
 protected:
  testing::TempDir dir;
  testing::TestPki good = testing::make_test_pki(dir.file("good"), {"DNS:localhost", "IP:127.0.0.1"});
  testing::TestPki other = testing::make_test_pki(dir.file("other"), {"DNS:other.example"});

  ClientOptions tls(const std::string& ca) {
    ClientOptions o;
    o.ca_file = ca;
    o.retry = {3, 5ms, 20ms};
    return o;
  }
};

TEST_F(HttpsClientTest, VerifiesTheServerAgainstTheConfiguredCa) {
  LocalHttpServer server(&good);
  server.script({respond(200, "secure")});
  auto client = make(tls(good.ca_cert));
  for (const char* host : {"localhost", "127.0.0.1"}) {
    Outcome o = call(*client, get(server.url(host)));
    ASSERT_TRUE(o.error.ok()) << host << ": " << o.error.message();
    EXPECT_EQ(o.response.body, "secure");
  }
}

TEST_F(HttpsClientTest, FailsWithAWrongCaWithoutRetrying) {
  LocalHttpServer server(&good);
  auto client = make(tls(other.ca_cert));
  Outcome o = call(*client, get(server.url("localhost")));
  EXPECT_EQ(o.error.code(), Code::unavailable);
  EXPECT_NE(o.error.message().find("certificate verify failed"), std::string::npos)
      << o.error.message();
  EXPECT_EQ(server.requests(), 0);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(HttpsClientTest, FailsWithAWrongHostName) {
  LocalHttpServer server(&other);  // certified for other.example only
  auto client = make(tls(other.ca_cert));
  Outcome o = call(*client, get(server.url("localhost")));
  EXPECT_EQ(o.error.code(), Code::unavailable);
  EXPECT_NE(o.error.message().find("certificate verify failed"), std::string::npos)
      << o.error.message();
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(HttpsClientTest, SystemStoreDoesNotTrustATestCa) {
  LocalHttpServer server(&good);
  auto client = make(tls(""));
  Outcome o = call(*client, get(server.url("localhost")));
  EXPECT_EQ(o.error.code(), Code::unavailable);
}

TEST_F(HttpsClientTest, AMissingCaFileIsAConfigurationError) {
  auto c = Client::create(io.get_executor(), tls(dir.file("missing.pem")));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::failed_precondition);
}

TEST(FullJitter, StaysWithinTheCappedExponentialBound) {
  RetryPolicy p{10, 100ms, 1000ms};
  for (unsigned retry = 0; retry < 40; ++retry) {
    const auto bound = std::min<long long>(1000, 100LL << std::min(retry, 30u));
    for (int i = 0; i < 50; ++i) {
      auto d = full_jitter(p, retry);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), bound);
    }
  }
}

}  // namespace
}  // namespace trousseau::http
