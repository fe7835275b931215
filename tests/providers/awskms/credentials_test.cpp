#include "providers/awskms/credentials.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <ctime>
#include <future>

#include "common/clock.hpp"
#include "provider_fixture.hpp"
#include "support/local_http_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::awskms {
namespace {

using namespace std::chrono_literals;
using testkit::LocalHttpServer;
using testkit::respond;
using testkit::ready;
using testkit::wait_until;

constexpr const char* kFile = R"(# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = default-secret

[prod]
; another comment
aws_access_key_id=AKIDPROD
aws_secret_access_key =  prod-secret
aws_session_token = prod-token
[broken]
aws_access_key_id = AKIDBROKEN
)";

TEST(CredentialsFile, ReadsTheRequestedProfile) {
  auto c = parse_credentials_file(kFile, "prod", "/f");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->access_key_id, "AKIDPROD");
  EXPECT_TRUE(c->secret_access_key.equals(as_bytes("prod-secret")));
  EXPECT_TRUE(c->session_token.equals(as_bytes("prod-token")));
  auto d = parse_credentials_file(kFile, "default", "/f");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->access_key_id, "AKIDDEFAULT");
  EXPECT_TRUE(d->session_token.empty());
}

TEST(CredentialsFile, MissingOrIncompleteProfilesAreErrorsWithoutSecrets) {
  auto missing = parse_credentials_file(kFile, "staging", "/f");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("staging"), std::string::npos);
  auto broken = parse_credentials_file(kFile, "broken", "/f");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().message().find("secret"), broken.error().message().find("secret_access_key"));
}

TEST(StsAnswer, ParsesCredentialsAndExpiration) {
  auto c = parse_assume_role_response(R"(<AssumeRoleWithWebIdentityResponse>
  <AssumeRoleWithWebIdentityResult><Credentials>
    <SessionToken>tok&amp;en</SessionToken><SecretAccessKey>sec&lt;ret</SecretAccessKey>
    <Expiration>2030-01-02T03:04:05.123Z</Expiration><AccessKeyId>ASIAEXAMPLE</AccessKeyId>
  </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>)");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->access_key_id, "ASIAEXAMPLE");
  EXPECT_TRUE(c->secret_access_key.equals(as_bytes("sec<ret")));
  EXPECT_TRUE(c->session_token.equals(as_bytes("tok&en")));
  EXPECT_EQ(WallClock::to_time_t(*c->expiration), 1893553445);
  EXPECT_FALSE(parse_assume_role_response("<Error/>").ok());
}

class ChainTest : public ProviderFixture {
 protected:
  Result<std::shared_ptr<CredentialChain>> chain(std::map<std::string, std::string> env,
                                                 std::string profile = "") {
    ChainOptions o;
    o.env = std::move(env);
    o.profile = std::move(profile);
    o.region = "us-east-1";
    return CredentialChain::create(io.get_executor(), o);
  }
  std::pair<Error, CredentialsPtr> get(CredentialChain& c, Clock::duration budget = 2s) {
    return c.async_get(Clock::now() + budget, asio::use_future([](Error e, CredentialsPtr p) {
      return std::make_pair(e, p);
    })).get();
  }
  testkit::TempDir dir;
};

TEST_F(ChainTest, EnvironmentComesFirst) {
  testkit::write_file(dir.file("creds"), kFile);
  auto c = chain({{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                  {"AWS_SESSION_TOKEN", "env-token"},
                  {"AWS_SHARED_CREDENTIALS_FILE", dir.file("creds")}});
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ((*c)->source(), "environment");
  auto [e, creds] = get(**c);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(creds->access_key_id, "AKIDENV");
  EXPECT_TRUE(creds->session_token.equals(as_bytes("env-token")));
}

TEST_F(ChainTest, SharedFileWithAwsProfileOrTheConfiguredOne) {
  testkit::write_file(dir.file("creds"), kFile);
  auto c = chain({{"AWS_SHARED_CREDENTIALS_FILE", dir.file("creds")}, {"AWS_PROFILE", "prod"}});
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(get(**c).second->access_key_id, "AKIDPROD");
  auto configured = chain({{"AWS_SHARED_CREDENTIALS_FILE", dir.file("creds")},
                           {"AWS_PROFILE", "prod"}}, "default");
  ASSERT_TRUE(configured.ok());
  EXPECT_EQ(get(**configured).second->access_key_id, "AKIDDEFAULT");
  auto home = chain({{"HOME", dir.path().string()}});  // no ~/.aws/credentials there
  EXPECT_FALSE(home.ok());
}

// Rotating the keys in the shared credentials file needs no restart.
TEST_F(ChainTest, ARotatedSharedFileIsReadAgain) {
  testkit::write_file(dir.file("creds"), kFile);
  auto c = chain({{"AWS_SHARED_CREDENTIALS_FILE", dir.file("creds")}, {"AWS_PROFILE", "prod"}});
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(get(**c).second->access_key_id, "AKIDPROD");
  testkit::write_file(dir.file("creds.new"),
                      "[prod]\naws_access_key_id = AKIDROTATED\naws_secret_access_key = rotated\n");
  std::filesystem::rename(dir.file("creds.new"), dir.file("creds"));
  ASSERT_TRUE(testkit::wait_until([&] { return get(**c).second->access_key_id == "AKIDROTATED"; }));
  EXPECT_TRUE(get(**c).second->secret_access_key.equals(as_bytes("rotated")));

}

TEST_F(ChainTest, ChoosingAMissingProfileIsAnError) {
  testkit::write_file(dir.file("creds"), kFile);
  auto c = chain({{"AWS_SHARED_CREDENTIALS_FILE", dir.file("creds")}}, "staging");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::failed_precondition);
}

TEST_F(ChainTest, HalfAKeyPairIsAnError) {
  auto c = chain({{"AWS_ACCESS_KEY_ID", "AKID"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("together"), std::string::npos);
}

TEST_F(ChainTest, NoCredentialsNamesTheOptions) {
  auto c = chain({});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("AWS_WEB_IDENTITY_TOKEN_FILE"), std::string::npos);
}

/// Web identity under stopped time: Clock stands still until the test
/// advances it, and the wall clock the chain compares STS expiry times with
/// moves with it, so refresh margins, hold-offs and deadlines are reached
/// by advance(), never by waiting.
class WebIdentityTest : public ChainTest {
 protected:
  Result<std::shared_ptr<CredentialChain>> web(std::chrono::seconds margin) {
    testkit::write_file(dir.file("token"), "header.payload.signature\n");
    ChainOptions o;
    o.env = {{"AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token")},
             {"AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/r"}};
    o.region = "us-east-1";
    o.sts_endpoint = sts.url();
    o.refresh_margin = margin;
    o.wall_now = [this] { return wall_now(); };
    return CredentialChain::create(io.get_executor(), o);
  }

  WallClock::time_point wall_now() const {
    return wall_start + std::chrono::duration_cast<WallClock::duration>(Clock::now() - clock_start);
  }

  /// Starts a get and returns its outcome's future.
  std::future<std::pair<Error, CredentialsPtr>> start_get(CredentialChain& c,
                                                          Clock::duration budget = 2s) {
    return c.async_get(Clock::now() + budget, asio::use_future([](Error e, CredentialsPtr p) {
      return std::make_pair(e, p);
    }));
  }

  trousseau::ManualTime time;
  const Clock::time_point clock_start = Clock::now();
  const WallClock::time_point wall_start = WallClock::now();
  LocalHttpServer sts;
};

TEST_F(WebIdentityTest, SendsTheTokenAndCachesTheAnswer) {
  sts.script({respond(200, sts_answer("ASIAONE", wall_now() + 1h))});
  auto c = web(5min);
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto [e, creds] = get(**c);
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(creds->access_key_id, "ASIAONE");
  EXPECT_TRUE(creds->session_token.equals(as_bytes("t-ASIAONE")));
  EXPECT_EQ(get(**c).second->access_key_id, "ASIAONE");
  ASSERT_EQ(sts.requests(), 1);  // cached
  const std::string body = sts.seen()[0].body;
  EXPECT_NE(body.find("Action=AssumeRoleWithWebIdentity"), std::string::npos);
  EXPECT_NE(body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr"), std::string::npos);
  EXPECT_NE(body.find("WebIdentityToken=header.payload.signature"), std::string::npos);
}

TEST_F(WebIdentityTest, RefreshesOnlyOnceTheMarginBeforeExpiryIsReached) {
  sts.script({respond(200, sts_answer("ASIAONE", wall_now() + 1h)),
              respond(200, sts_answer("ASIATWO", wall_now() + 2h))});
  auto c = web(5min);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(get(**c).second->access_key_id, "ASIAONE");
  time.advance(54min);  // 6 minutes left: not due yet
  EXPECT_EQ(get(**c).second->access_key_id, "ASIAONE");
  EXPECT_EQ(sts.requests(), 1);
  time.advance(2min);  // 4 minutes left: due
  EXPECT_EQ(get(**c).second->access_key_id, "ASIAONE") << "the valid credentials still serve";
  ASSERT_TRUE(wait_until([&] { return sts.requests() == 2; }));
  ASSERT_TRUE(wait_until([&] { return get(**c).second->access_key_id == "ASIATWO"; }));
  EXPECT_EQ(sts.requests(), 2);
}

TEST_F(WebIdentityTest, ABackgroundRefreshNeverBlocksCallersWithValidCredentials) {
  // A margin of the whole lifetime: every call finds ASIAONE due. ASIATWO
  // lasts longer, so that it ends the refreshing.
  sts.script({respond(200, sts_answer("ASIAONE", wall_now() + 1h)), testkit::hang(),
              respond(200, sts_answer("ASIATWO", wall_now() + 2h))});
  auto c = web(3600s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(get(**c).second->access_key_id, "ASIAONE");
  // Starts a refresh within this caller's 2 s, which hangs; the caller is
  // served at once (under stopped time, a wait for STS would never end).
  auto first = start_get(**c, 2s);
  ASSERT_TRUE(wait_until([&] { return ready(first); }));
  EXPECT_EQ(first.get().second->access_key_id, "ASIAONE");
  ASSERT_TRUE(wait_until([&] { return sts.requests() == 2; }));
  EXPECT_EQ(get(**c).second->access_key_id, "ASIAONE") << "still served during the refresh";
  // The hung call ends at the deadline of the caller that started it. That
  // says nothing about STS, so no hold-off: the next caller refreshes again.
  time.advance(2s);
  ASSERT_TRUE(wait_until([&] { return get(**c).second->access_key_id == "ASIATWO"; }));
  EXPECT_EQ(sts.requests(), 3);
}

TEST_F(WebIdentityTest, AFailedCallHoldsOffCallersWithoutCredentialsForTheHoldOff) {
  sts.script({respond(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken"
                           "</Code><Message>bad token</Message></Error></ErrorResponse>"),
              respond(200, sts_answer("ASIAONE", wall_now() + 1h))});
  auto c = web(5min);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(get(**c).first.code(), Code::permission_denied);
  EXPECT_EQ(sts.requests(), 1);
  time.advance(CredentialChain::kFailureHoldOff - 1ms);
  auto [held, none] = get(**c);
  EXPECT_EQ(held.code(), Code::permission_denied) << "within the hold-off: the last error, at once";
  EXPECT_FALSE(none);
  EXPECT_EQ(sts.requests(), 1);
  time.advance(1ms);
  auto [e, creds] = get(**c);
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(creds->access_key_id, "ASIAONE");
  EXPECT_EQ(sts.requests(), 2);
}

TEST_F(WebIdentityTest, WaitingCallersHonourTheirDeadline) {
  sts.script({testkit::hang()});
  auto c = web(5min);
  ASSERT_TRUE(c.ok());
  auto result = start_get(**c, 100ms);
  ASSERT_TRUE(wait_until([&] { return sts.requests() == 1; }));
  EXPECT_FALSE(ready(result)) << "time stands still: nothing may end the wait yet";
  time.advance(100ms);
  auto [e, creds] = result.get();
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_FALSE(creds);
}

TEST_F(WebIdentityTest, AWaiterWithTimeLeftOutlivesACallStartedUnderAShorterDeadline) {
  sts.script({testkit::hang(), respond(200, sts_answer("ASIAONE", wall_now() + 1h))});
  auto c = web(5min);
  ASSERT_TRUE(c.ok());
  auto hurried = start_get(**c, 1s);  // starts the STS call, within 1 s
  auto patient = start_get(**c, 10s);  // joins it
  ASSERT_TRUE(wait_until([&] { return sts.requests() == 1; }));
  time.advance(1s);
  EXPECT_EQ(hurried.get().first.code(), Code::deadline_exceeded);
  auto [e, creds] = patient.get();
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(creds->access_key_id, "ASIAONE");
  EXPECT_EQ(sts.requests(), 2);
}

TEST_F(WebIdentityTest, WaitingCallersCanBeCancelled) {
  sts.script({testkit::hang()});
  auto c = web(5min);
  ASSERT_TRUE(c.ok());
  asio::cancellation_signal signal;
  std::promise<Error> done;
  (*c)->async_get(Clock::now() + 10s,
                  asio::bind_cancellation_slot(signal.slot(), [&](Error e, CredentialsPtr) {
                    done.set_value(std::move(e));
                  }));
  ASSERT_TRUE(wait_until([&] { return sts.requests() == 1; }));
  asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  EXPECT_EQ(done.get_future().get().code(), Code::cancelled);
}

TEST_F(WebIdentityTest, StsRefusalIsPermissionDeniedWithTheQuotedMessage) {
  sts.script({respond(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken"
                           "</Code><Message>bad token</Message></Error></ErrorResponse>")});
  auto c = web(5min);
  ASSERT_TRUE(c.ok());
  auto [e, creds] = get(**c);
  EXPECT_EQ(e.code(), Code::permission_denied) << e.message();
  EXPECT_NE(e.message().find("InvalidIdentityToken: \"bad token\""), std::string::npos)
      << e.message();
  EXPECT_EQ(e.message().find("header.payload"), std::string::npos);  // the token stays secret
}

}  // namespace
}  // namespace trousseau::providers::awskms
