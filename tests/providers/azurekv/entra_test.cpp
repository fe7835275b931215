// The token source against a scripted HTTP server: what each request looks
// like (IMDS over plain http as on Azure VMs), caching and background
// refresh on manual time, and the hold-off after a refusal.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "providers/azurekv/entra.hpp"
#include "support/local_http_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::azurekv {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testkit::LocalHttpServer;
using testkit::respond;

std::string token_answer(const std::string& token, const std::string& expires_in) {
  return R"({"access_token":")" + token + R"(","expires_in":)" + expires_in +
         R"(,"token_type":"Bearer"})";
}

class EntraTokens : public ::testing::Test {
 protected:
  EntraTokens() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~EntraTokens() override {
    source_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void start(TokenOptions options) {
    http::ClientOptions co;
    co.allow_plain_http = true;
    co.retry.max_attempts = 1;
    auto client = http::Client::create(io_.get_executor(), co);
    ASSERT_TRUE(client.ok());
    auto source = TokenSource::create(io_.get_executor(), std::move(client).value(), std::move(options));
    ASSERT_TRUE(source.ok()) << source.error().message();
    source_ = std::move(source).value();
  }

  std::pair<Error, std::string> get() {
    return source_->async_get(Clock::now() + 10s, asio::use_future([](Error e, TokenPtr t) {
             return std::make_pair(std::move(e), t ? std::string(as_chars(t->value.view())) : std::string());
           })).get();
  }

  TokenOptions imds(const LocalHttpServer& server) {
    TokenOptions o;
    o.method = AuthMethod::managed_identity;
    o.client_id = "mi-client";
    o.imds_endpoint = server.url();
    while (!o.imds_endpoint.empty() && o.imds_endpoint.back() == '/') o.imds_endpoint.pop_back();
    o.scope = "https://vault.azure.net/.default";
    return o;
  }

  std::unique_ptr<ManualTime> time_;  ///< before the io thread's timers, after them
  asio::io_context io_;
  std::shared_ptr<TokenSource> source_;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

TEST_F(EntraTokens, ManagedIdentityAsksImdsOverPlainHttpWithTheMetadataHeader) {
  LocalHttpServer server;
  // IMDS writes its numbers as strings.
  server.script({respond(200, token_answer("imds-token", "\"3599\""))});
  start(imds(server));
  auto [e, token] = get();
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(token, "imds-token");
  ASSERT_EQ(server.seen().size(), 1u);
  const testkit::SeenRequest seen = server.seen()[0];
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target,
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
            "&client_id=mi-client");
  EXPECT_NE(seen.headers.find("Metadata: true"), std::string::npos) << seen.headers;
}

TEST_F(EntraTokens, ClientSecretIsPostedAsAFormAndReadFromItsFileEachTime) {
  LocalHttpServer server;
  server.script({respond(200, token_answer("t1", "3600"))});
  testkit::TempDir dir;
  testkit::write_file(dir.file("secret"), "s3cr&t=1\n");
  TokenOptions o;
  o.method = AuthMethod::client_secret;
  o.tenant_id = "tenant-1";
  o.client_id = "app-1";
  o.client_secret_file = dir.file("secret");
  o.authority_host = server.url().substr(0, server.url().size() - 1);
  o.scope = "https://vault.azure.net/.default";
  start(o);
  TokenPtr first = source_->async_get(Clock::now() + 10s, asio::use_future([](Error, TokenPtr t) { return t; })).get();
  ASSERT_TRUE(first);
  const testkit::SeenRequest seen = server.seen().at(0);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/tenant-1/oauth2/v2.0/token");
  EXPECT_EQ(seen.body,
            "grant_type=client_credentials&client_id=app-1&scope=https%3A%2F%2Fvault.azure.net%2F.default"
            "&client_secret=s3cr%26t%3D1");
  // A rotated secret is used at the next request, without a restart.
  testkit::write_file(dir.file("secret"), "rotated");
  source_->invalidate(first);
  ASSERT_TRUE(get().first.ok());
  const std::string body = server.seen().at(1).body;
  EXPECT_EQ(body.substr(body.rfind('&')), "&client_secret=rotated");
}

TEST_F(EntraTokens, ATokenIsCachedThenRefreshedInTheBackgroundWithinTheMargin) {
  time_ = std::make_unique<ManualTime>();
  LocalHttpServer server;
  server.script({respond(200, token_answer("first", "\"3600\"")),
                 respond(200, token_answer("second", "\"3600\""))});
  start(imds(server));
  EXPECT_EQ(get().second, "first");
  time_->advance(3000s);
  EXPECT_EQ(get().second, "first");  // cached: outside the 300 s margin
  EXPECT_EQ(server.requests(), 1);
  time_->advance(400s);              // 200 s left: served, and refreshed behind
  EXPECT_EQ(get().second, "first");
  ASSERT_TRUE(testkit::wait_until([&] { return server.requests() == 2; }));
  ASSERT_TRUE(testkit::wait_until([&] { return get().second == "second"; }));
  EXPECT_EQ(server.requests(), 2);
}

TEST_F(EntraTokens, ARefusalIsNotAskedAgainForFiveSeconds) {
  time_ = std::make_unique<ManualTime>();
  LocalHttpServer server;
  server.script({respond(400, R"({"error":"invalid_request","error_description":"Identity not found"})"),
                 respond(200, token_answer("late", "\"3600\""))});
  start(imds(server));
  auto [e, t] = get();
  EXPECT_EQ(e.code(), Code::permission_denied) << e.message();
  EXPECT_NE(e.message().find("Identity not found"), std::string::npos) << e.message();
  EXPECT_EQ(get().first.code(), Code::permission_denied);
  EXPECT_EQ(server.requests(), 1);
  time_->advance(TokenSource::kFailureHoldOff);
  EXPECT_EQ(get().second, "late");
  EXPECT_EQ(server.requests(), 2);
}

TEST_F(EntraTokens, InvalidateDropsOnlyTheTokenTheVaultRefused) {
  LocalHttpServer server;
  server.script({respond(200, token_answer("a", "3600")), respond(200, token_answer("b", "3600"))});
  start(imds(server));
  TokenPtr first = source_->async_get(Clock::now() + 10s, asio::use_future([](Error, TokenPtr t) { return t; })).get();
  ASSERT_TRUE(first);
  source_->invalidate(std::make_shared<const AccessToken>());  // some other token: nothing happens
  EXPECT_EQ(get().second, "a");
  source_->invalidate(first);
  EXPECT_EQ(get().second, "b");
  EXPECT_EQ(server.requests(), 2);
}

TEST(EntraAnswers, EntraErrorsKeepTheCodeButNotTheTraceAndMapByStatus) {
  http::Response r;
  r.status = 401;
  r.body = R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: 1 Correlation ID: 2","error_codes":[7000215]})";
  Error e = map_token_error(r);
  EXPECT_EQ(e.code(), Code::permission_denied);
  EXPECT_NE(e.message().find("AADSTS7000215"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("Trace ID"), std::string::npos) << e.message();
  r.status = 503;
  EXPECT_EQ(map_token_error(r).code(), Code::unavailable);
  r.status = 429;
  EXPECT_EQ(map_token_error(r).code(), Code::unavailable);
}

TEST(EntraAnswers, ATokenAnswerNeedsATokenAndAPositiveLifetime) {
  const Clock::time_point asked{};
  std::string ok = token_answer("x", "60");
  Result<AccessToken> t = parse_token_response(ok, asked);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->expires, asked + 60s);
  EXPECT_TRUE(ok.empty());  // wiped
  // A lifetime past a day is held for a day: however large, as a number
  // or as Azure's string, it never overflows the clock.
  for (std::string huge : {token_answer("x", "9223372036854775807"),
                           token_answer("x", "18446744073709551615"),
                           token_answer("x", "\"0000000000000000000000000004307442843600586350\""),
                           token_answer("x", "\"9223372036854775807\""), token_answer("x", "86401")}) {
    Result<AccessToken> h = parse_token_response(huge, asked);
    ASSERT_TRUE(h.ok()) << huge;
    EXPECT_EQ(h->expires, asked + kMaxTokenLifetime);
  }
  for (std::string bad : {token_answer("", "60"), token_answer("x", "0"), token_answer("x", "\"soon\""),
                          std::string(R"({"expires_in":60})"), std::string("not json")}) {
    EXPECT_FALSE(parse_token_response(bad, asked).ok()) << bad;
  }
}

}  // namespace
}  // namespace trousseau::providers::azurekv
