// Tests of src/http/ (they live here until tests/http/ has a meson.build).
//
// Nothing here sleeps to order events or bounds a duration by the wall
// clock: a test waits for the state it needs (testkit::wait_until over the
// local server's counters), and a test about time freezes it with
// ManualTime and moves it with advance().
#include "http/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <climits>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.hpp"
#include "support/local_http_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "support/wait.hpp"

namespace trousseau::http {
namespace {

using namespace std::chrono_literals;
using testkit::LocalHttpServer;
using testkit::Reply;
using testkit::respond;
using testkit::wait_until;

/// How long a request may take before the test calls it a hang. A guard,
/// not a speed bound: no outcome below depends on it.
constexpr auto kPatience = 60s;

struct Outcome {
  Error error;
  Response response;
};

Request get(const std::string& url) {
  Request r;
  r.url = Url::parse(url).value();
  return r;
}

/// The error names the stage it ended: the request sent, the client cut
/// either its write (whose completion it may not have seen yet) or its read.
bool during_io(const Error& e) {
  return e.message().find("during write") != std::string::npos ||
         e.message().find("during read") != std::string::npos;
}

/// The same pause before every retry, so that a test under ManualTime knows
/// how far to advance.
BackoffFunction fixed_pause(std::chrono::milliseconds pause) {
  return [pause](const RetryPolicy&, unsigned) { return pause; };
}

/// A completion handler that fulfils `future`. The promise is shared so that
/// a test giving up on a hung request leaves nothing dangling.
struct Completion {
  std::shared_ptr<std::promise<Outcome>> promise = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> future = promise->get_future();

  auto handler() {
    return [p = promise](Error e, Response r) { p->set_value({std::move(e), std::move(r)}); };
  }
  bool done() const { return future.wait_for(0s) == std::future_status::ready; }
  /// Waits for the outcome; a hang fails the test instead of blocking it.
  Outcome outcome() {
    if (future.wait_for(kPatience) != std::future_status::ready) {
      ADD_FAILURE() << "the request never completed";
      return {Error(Code::internal, "never completed"), {}};
    }
    return future.get();
  }
};

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

  static std::unique_ptr<Completion> start(Client& c, Request r, Deadline deadline) {
    auto done = std::make_unique<Completion>();
    c.async_request(std::move(r), deadline, done->handler());
    return done;
  }

  Outcome call(Client& c, Request r, Clock::duration budget = kPatience) {
    return start(c, std::move(r), Clock::now() + budget)->outcome();
  }

  asio::io_context io;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// --- Url ------------------------------------------------------------------

bool loopback(const std::string& url) {
  auto u = Url::parse(url);
  EXPECT_TRUE(u.ok()) << url;
  return u.ok() && u.value().loopback();
}

TEST(UrlLoopback, LoopbackIpLiteralsAndLocalhostAreLoopback) {
  for (const char* url : {"http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://127.255.255.254/",
                          "http://[::1]/", "http://[::1]:4566/", "http://localhost/",
                          "http://LocalHost:80/"}) {
    EXPECT_TRUE(loopback(url)) << url;
  }
}

TEST(UrlLoopback, NamesThatMerelyLookLikeLoopbackAreNot) {
  for (const char* url : {
           "http://127.evil.example/",        // a DNS name starting with "127."
           "http://1127.0.0.1/",              // not an address at all
           "http://0x7f.0.0.1/",              // inet_aton forms are names to us
           "http://0177.0.0.1/",              //
           "http://127.1/",                   //
           "http://2130706433/",              //
           "http://localhost./",              // may be sent to DNS
           "http://localhost.evil.example/",  //
           "http://evil-localhost/",          //
           "http://[::ffff:127.0.0.1]/",      // v4-mapped: refused, see Url::loopback
           "http://[::2]/",                   //
           "http://[::]/",                    //
           "http://0.0.0.0/",                 //
           "http://10.0.0.1/",                //
           "http://128.0.0.1/",               //
       }) {
    EXPECT_FALSE(loopback(url)) << url;
  }
}

TEST(UrlParse, ANameThatBeginsWithAnIpv4AddressIsNeverCutShort) {
  // Boost.URL 1.81 reads "127.0.0.1.nip.io" as host 127.0.0.1 and path
  // ".nip.io/": Url::parse refuses such URLs. A Boost.URL that reads them
  // right gives the whole name, which is not loopback.
  const std::pair<const char*, const char*> cases[] = {
      {"http://127.0.0.1.nip.io/", "127.0.0.1.nip.io"},
      {"http://127.0.0.1.nip.io:8080/x", "127.0.0.1.nip.io"},
      {"https://1.2.3.4.5/", "1.2.3.4.5"},
  };
  for (const auto& [text, name] : cases) {
    auto url = Url::parse(text);
    if (url.ok()) {
      EXPECT_EQ(url.value().host, name) << text;
      EXPECT_FALSE(url.value().loopback()) << text;
    } else {
      EXPECT_EQ(url.error().code(), Code::invalid_argument) << text;
    }
  }
}

TEST(UrlParse, APortFollowedByMoreThanAPathIsRefused) {
  auto url = Url::parse("http://127.0.0.1:80.nip.io/");
  ASSERT_FALSE(url.ok()) << url.value().host << " " << url.value().target;
  EXPECT_EQ(url.error().code(), Code::invalid_argument);
}

// --- Connections and the pool -----------------------------------------------

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

TEST_F(HttpClientTest, IdleConnectionsReachingTheIdleTimeoutAreNotReused) {
  trousseau::ManualTime time;
  LocalHttpServer server;
  server.script({respond(200, "hello")});
  ClientOptions options = plain();
  options.idle_timeout = 1000ms;
  auto client = make(options);
  ASSERT_TRUE(call(*client, get(server.url())).error.ok());
  time.advance(999ms);
  ASSERT_TRUE(call(*client, get(server.url())).error.ok());
  EXPECT_EQ(server.accepted(), 1) << "a connection idle for 999ms is reused";
  time.advance(1000ms);
  ASSERT_TRUE(call(*client, get(server.url())).error.ok());
  EXPECT_EQ(server.accepted(), 2) << "a connection idle for 1000ms is replaced";
  EXPECT_TRUE(wait_until([&] { return server.closed_by_client() == 1; }))
      << "the stale connection is closed, not leaked";
}

TEST_F(HttpClientTest, ReplacesAKeepAliveConnectionTheServerDropped) {
  LocalHttpServer server;
  Reply dropped = respond(200, "one");
  dropped.drop = true;
  server.script({dropped, respond(200, "two")});
  auto client = make(plain({1, 1ms, 1ms}));  // no retries: only the stale-connection rule
  ASSERT_TRUE(call(*client, get(server.url())).error.ok());
  ASSERT_EQ(client->idle_connections(), 1u);
  ASSERT_TRUE(wait_until([&] { return server.closed_by_server() == 1; }));
  Outcome o = call(*client, get(server.url()));
  ASSERT_TRUE(o.error.ok()) << o.error.message();
  EXPECT_EQ(o.response.body, "two");
  EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, RefusesPlainHttpUnlessAllowed) {
  LocalHttpServer server;
  auto client = make(ClientOptions{});
  Outcome o = call(*client, get(server.url()));
  EXPECT_EQ(o.error.code(), Code::failed_precondition);
  EXPECT_EQ(server.accepted(), 0);
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

// --- Deadlines and cancellation ---------------------------------------------

TEST_F(HttpClientTest, ADeadlineAlreadyPassedFailsWithoutConnecting) {
  trousseau::ManualTime time;
  LocalHttpServer server;
  auto client = make(plain());
  Outcome o = start(*client, get(server.url()), Clock::now())->outcome();
  EXPECT_EQ(o.error.code(), Code::deadline_exceeded) << o.error.message();
  EXPECT_NE(o.error.message().find("before the request started"), std::string::npos)
      << o.error.message();
  EXPECT_EQ(server.accepted(), 0);
}

TEST_F(HttpClientTest, TheDeadlineCutsAHangingRequestAndClosesTheSocket) {
  trousseau::ManualTime time;
  LocalHttpServer server;
  server.script({testkit::hang()});
  auto client = make(plain());
  auto request = start(*client, get(server.url()), Clock::now() + 200ms);
  ASSERT_TRUE(wait_until([&] { return server.requests() == 1; }));
  EXPECT_FALSE(request->done()) << "time stands still: nothing may end the request yet";
  time.advance(200ms);
  Outcome o = request->outcome();
  EXPECT_EQ(o.error.code(), Code::deadline_exceeded) << o.error.message();
  EXPECT_TRUE(during_io(o.error)) << o.error.message();
  EXPECT_TRUE(wait_until([&] { return server.closed_by_client() == 1; }))
      << "the server never saw the close";
}

TEST_F(HttpClientTest, CancellationCompletesTheRequestAndClosesTheSocket) {
  trousseau::ManualTime time;  // the deadline cannot fire: only the cancellation ends it
  LocalHttpServer server;
  server.script({testkit::hang()});
  auto client = make(plain());
  asio::cancellation_signal signal;
  Completion request;
  client->async_request(get(server.url()), Clock::now() + 1s,
                        asio::bind_cancellation_slot(signal.slot(), request.handler()));
  ASSERT_TRUE(wait_until([&] { return server.requests() == 1; }));
  EXPECT_FALSE(request.done());
  // The handler runs on io's only thread: emit there, as a caller would.
  asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  Outcome o = request.outcome();
  EXPECT_EQ(o.error.code(), Code::cancelled) << o.error.message();
  EXPECT_TRUE(during_io(o.error)) << o.error.message();
  EXPECT_TRUE(wait_until([&] { return server.closed_by_client() == 1; }))
      << "the server never saw the close";
}

TEST_F(HttpClientTest, CompletesOnTheHandlersExecutorNeverInline) {
  LocalHttpServer server;
  auto client = make(plain());
  auto strand = asio::make_strand(io);
  std::promise<bool> on_strand;
  bool initiated = false;
  bool inline_call = false;
  asio::post(strand, [&] {
    client->async_request(get(server.url()), Clock::now() + kPatience,
                          asio::bind_executor(strand, [&](Error, Response) {
                            inline_call = !initiated;
                            on_strand.set_value(strand.running_in_this_thread());
                          }));
    initiated = true;
  });
  auto fut = on_strand.get_future();
  ASSERT_EQ(fut.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(fut.get());
  EXPECT_FALSE(inline_call);
}

// --- Retries ----------------------------------------------------------------

TEST_F(HttpClientTest, RetriesOn500And429ThenSucceeds) {
  LocalHttpServer server;
  server.script({respond(500), respond(429), respond(200, "ok")});
  auto client = make(plain({4, 5ms, 20ms}));  // real full-jitter pauses
  Outcome o = call(*client, get(server.url()));
  ASSERT_TRUE(o.error.ok()) << o.error.message();
  EXPECT_EQ(o.response.body, "ok");
  EXPECT_EQ(server.requests(), 3);
}

TEST_F(HttpClientTest, ARetryWaitsForItsPause) {
  trousseau::ManualTime time;
  LocalHttpServer server;
  server.script({respond(503), respond(200, "ok")});
  ClientOptions options = plain({2, 100ms, 100ms});
  options.backoff = fixed_pause(100ms);
  auto client = make(options);
  auto request = start(*client, get(server.url()), Clock::now() + 150ms);
  ASSERT_TRUE(wait_until([&] { return client->waiting_to_retry() == 1; }));
  EXPECT_EQ(server.requests(), 1) << "the retry went out before its pause";
  EXPECT_FALSE(request->done());
  time.advance(100ms);
  Outcome o = request->outcome();
  ASSERT_TRUE(o.error.ok()) << o.error.message();
  EXPECT_EQ(o.response.body, "ok");
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(client->waiting_to_retry(), 0u);
}

TEST_F(HttpClientTest, ARetryWhosePauseWouldReachTheDeadlineIsNotMade) {
  trousseau::ManualTime time;  // never advanced: the outcome must not wait for it
  LocalHttpServer server;
  server.script({respond(500)});
  ClientOptions options = plain({10, 100ms, 100ms});
  options.backoff = fixed_pause(100ms);
  auto client = make(options);
  Outcome o = start(*client, get(server.url()), Clock::now() + 100ms)->outcome();
  EXPECT_EQ(o.error.code(), Code::unavailable) << o.error.message();
  EXPECT_NE(o.error.message().find("HTTP 500"), std::string::npos) << o.error.message();
  EXPECT_EQ(o.response.status, 500u);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(client->waiting_to_retry(), 0u);
}

TEST_F(HttpClientTest, ARetryAfterLongerThanThePauseIsWaitedFor) {
  trousseau::ManualTime time;
  LocalHttpServer server;
  Reply later = respond(429);
  later.headers = {{"Retry-After", "2"}};
  server.script({later, respond(200, "ok")});
  ClientOptions options = plain({2, 100ms, 100ms});
  options.backoff = fixed_pause(100ms);
  auto client = make(options);
  auto request = start(*client, get(server.url()), Clock::now() + 10s);
  ASSERT_TRUE(wait_until([&] { return client->waiting_to_retry() == 1; }));
  time.advance(1900ms);  // the backoff alone would have retried by now
  EXPECT_EQ(server.requests(), 1) << "the retry went out before Retry-After";
  EXPECT_FALSE(request->done());
  time.advance(100ms);
  Outcome o = request->outcome();
  ASSERT_TRUE(o.error.ok()) << o.error.message();
  EXPECT_EQ(o.response.body, "ok");
  EXPECT_EQ(server.requests(), 2);
}

TEST_F(HttpClientTest, ARetryAfterPastTheDeadlineAnswersAtOnce) {
  trousseau::ManualTime time;  // never advanced: the outcome must not wait for it
  LocalHttpServer server;
  Reply later = respond(503);
  later.headers = {{"Retry-After", "30"}};
  server.script({later});
  ClientOptions options = plain({4, 100ms, 100ms});
  options.backoff = fixed_pause(100ms);
  auto client = make(options);
  Outcome o = start(*client, get(server.url()), Clock::now() + 10s)->outcome();
  EXPECT_EQ(o.error.code(), Code::unavailable) << o.error.message();
  EXPECT_EQ(o.response.status, 503u);
  EXPECT_EQ(server.requests(), 1);
}

TEST_F(HttpClientTest, CancellationDuringAPauseEndsTheRequest) {
  trousseau::ManualTime time;  // never advanced: the pause never ends by itself
  LocalHttpServer server;
  server.script({respond(503)});
  ClientOptions options = plain({3, 100ms, 100ms});
  options.backoff = fixed_pause(100ms);
  auto client = make(options);
  asio::cancellation_signal signal;
  Completion request;
  client->async_request(get(server.url()), Clock::now() + 1s,
                        asio::bind_cancellation_slot(signal.slot(), request.handler()));
  ASSERT_TRUE(wait_until([&] { return client->waiting_to_retry() == 1; }));
  asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  Outcome o = request.outcome();
  EXPECT_EQ(o.error.code(), Code::cancelled) << o.error.message();
  EXPECT_NE(o.error.message().find("during backoff"), std::string::npos) << o.error.message();
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(client->waiting_to_retry(), 0u);
}

TEST_F(HttpClientTest, GivesUpAfterMaxAttemptsWithUnavailable) {
  LocalHttpServer server;
  server.script({respond(503, "busy")});
  ClientOptions options = plain({3, 1ms, 5ms});
  std::mutex mutex;
  std::vector<unsigned> retries;
  options.backoff = [&](const RetryPolicy&, unsigned retry) {
    std::lock_guard lock(mutex);
    retries.push_back(retry);
    return 0ms;
  };
  auto client = make(options);
  Outcome o = call(*client, get(server.url()));
  EXPECT_EQ(o.error.code(), Code::unavailable);
  EXPECT_NE(o.error.message().find("after 3 attempts"), std::string::npos) << o.error.message();
  EXPECT_NE(o.error.message().find("HTTP 503"), std::string::npos) << o.error.message();
  EXPECT_EQ(o.response.status, 503u);  // the body stays available to the caller
  EXPECT_EQ(o.response.body, "busy");
  EXPECT_EQ(server.requests(), 3);
  std::lock_guard lock(mutex);
  EXPECT_EQ(retries, (std::vector<unsigned>{0, 1}));
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

// --- Threads ----------------------------------------------------------------

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
  enum Ending : int { kPending, kOk, kCancelled, kOther };
  // Each slot is written by its own handler; the counter publishes them.
  std::vector<Ending> results(kRequests, kPending);
  std::vector<asio::cancellation_signal> signals(kRequests);
  std::atomic<int> completions{0};
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    auto strand = asio::make_strand(io);
    asio::post(strand, [&, i, strand] {
      (*client)->async_request(
          get(server.url()), Clock::now() + kPatience,
          asio::bind_cancellation_slot(
              signals[i].slot(), asio::bind_executor(strand, [&, i](Error e, Response r) {
                results[i] = e.ok() && r.body == "ok"       ? kOk
                             : e.code() == Code::cancelled ? kCancelled
                                                           : kOther;
                if (++completions == kRequests) all_done.set_value();
              })));
      if (i % 3 == 0) {
        // Cancel from the request's own strand, at whatever stage it reached.
        asio::post(strand, [&, i] { signals[i].emit(asio::cancellation_type::terminal); });
      }
    });
  }
  auto fut = all_done.get_future();
  ASSERT_EQ(fut.wait_for(kPatience), std::future_status::ready);
  for (int i = 0; i < kRequests; ++i) {
    if (i % 3 == 0) {
      EXPECT_TRUE(results[i] == kOk || results[i] == kCancelled) << "request " << i;
    } else {
      EXPECT_EQ(results[i], kOk) << "request " << i;
    }
  }
  EXPECT_LE((*client)->idle_connections(), 4u);
  client->reset();
  work.reset();
  for (auto& t : threads) t.join();
}

// --- TLS --------------------------------------------------------------------

class HttpsClientTest : public HttpClientTest {
 protected:
  testkit::TempDir dir;
  testkit::TestPki good = testkit::make_test_pki(dir.file("good"), {"DNS:localhost", "IP:127.0.0.1"});
  testkit::TestPki other = testkit::make_test_pki(dir.file("other"), {"DNS:other.example"});

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

TEST_F(HttpsClientTest, PresentsTheClientCertificateWhenTheServerRequiresOne) {
  const testkit::TestClientCert me = testkit::make_test_client_cert(dir.file("good"), "client");
  LocalHttpServer server(&good, good.ca_cert);
  server.script({respond(200, "mutual")});
  ClientOptions o = tls(good.ca_cert);
  o.client_cert_file = me.cert;
  o.client_key_file = me.key;
  auto client = make(o);
  Outcome ok = call(*client, get(server.url("localhost")));
  ASSERT_TRUE(ok.error.ok()) << ok.error.message();
  EXPECT_EQ(ok.response.body, "mutual");

  auto anonymous = make(tls(good.ca_cert));
  Outcome refused = call(*anonymous, get(server.url("localhost")));
  EXPECT_EQ(refused.error.code(), Code::unavailable);
  EXPECT_EQ(server.requests(), 1);
}

TEST_F(HttpsClientTest, AClientKeyThatDoesNotMatchItsCertificateIsAConfigurationError) {
  const testkit::TestClientCert a = testkit::make_test_client_cert(dir.file("good"), "a");
  const testkit::TestClientCert b = testkit::make_test_client_cert(dir.file("good"), "b");
  ClientOptions o = tls(good.ca_cert);
  o.client_cert_file = a.cert;
  o.client_key_file = b.key;
  auto c = Client::create(io.get_executor(), o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::failed_precondition);
  EXPECT_NE(c.error().message().find("client key from " + b.key), std::string::npos)
      << c.error().message();

  o.client_key_file.clear();
  auto half = Client::create(io.get_executor(), o);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code(), Code::failed_precondition);
}

TEST_F(HttpsClientTest, ServerNameIsVerifiedInsteadOfTheUrlHost) {
  LocalHttpServer server(&other);  // certified for other.example only
  server.script({respond(200, "named")});
  ClientOptions o = tls(other.ca_cert);
  o.server_name = "other.example";
  auto client = make(o);
  Outcome named = call(*client, get(server.url("127.0.0.1")));
  ASSERT_TRUE(named.error.ok()) << named.error.message();
  EXPECT_EQ(named.response.body, "named");

  o.server_name = "wrong.example";
  auto wrong = make(o);
  Outcome refused = call(*wrong, get(server.url("127.0.0.1")));
  EXPECT_EQ(refused.error.code(), Code::unavailable);
  EXPECT_NE(refused.error.message().find("certificate verify failed"), std::string::npos)
      << refused.error.message();
}

// --- Backoff arithmetic -----------------------------------------------------

TEST(Backoff, TheCeilingDoublesFromTheBaseUpToTheCap) {
  const RetryPolicy p{10, 100ms, 1000ms};
  EXPECT_EQ(backoff_ceiling(p, 0), 100ms);
  EXPECT_EQ(backoff_ceiling(p, 1), 200ms);
  EXPECT_EQ(backoff_ceiling(p, 2), 400ms);
  EXPECT_EQ(backoff_ceiling(p, 3), 800ms);
  EXPECT_EQ(backoff_ceiling(p, 4), 1000ms);
  EXPECT_EQ(backoff_ceiling(p, 40), 1000ms);
  EXPECT_EQ(backoff_ceiling(p, UINT_MAX), 1000ms);
}

TEST(Backoff, TheCeilingNeitherOverflowsNorGoesNegative) {
  using ms = std::chrono::milliseconds;
  EXPECT_EQ(backoff_ceiling({10, 0ms, 1000ms}, 5), 0ms);
  EXPECT_EQ(backoff_ceiling({10, 5000ms, 1000ms}, 0), 1000ms);  // base above the cap
  EXPECT_EQ(backoff_ceiling({10, -5ms, 1000ms}, 3), 0ms);
  EXPECT_EQ(backoff_ceiling({10, 100ms, -1ms}, 3), 0ms);
  const RetryPolicy huge{10, ms(ms::max().count() / 3), ms::max()};
  EXPECT_EQ(backoff_ceiling(huge, 1), ms(ms::max().count() / 3 * 2));
  EXPECT_EQ(backoff_ceiling(huge, 2), ms::max());
  EXPECT_EQ(backoff_ceiling(huge, 64), ms::max());
}

TEST(Backoff, FullJitterStaysWithinTheCeiling) {
  const RetryPolicy p{10, 100ms, 1000ms};
  for (unsigned retry = 0; retry < 40; ++retry) {
    for (int i = 0; i < 50; ++i) {
      const auto d = full_jitter(p, retry);
      EXPECT_GE(d, 0ms);
      EXPECT_LE(d, backoff_ceiling(p, retry));
    }
  }
}

TEST(Backoff, FullJitterReachesBothEndsOfItsRange) {
  // A ceiling of 1ms: missing either end in 1000 uniform draws has odds of 2^-999.
  const RetryPolicy p{10, 1ms, 1000ms};
  std::set<long long> drawn;
  for (int i = 0; i < 1000; ++i) drawn.insert(full_jitter(p, 0).count());
  EXPECT_EQ(drawn, (std::set<long long>{0, 1}));
}

}  // namespace
}  // namespace trousseau::http
