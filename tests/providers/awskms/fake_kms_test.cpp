// The awskms provider against a scripted local HTTP server: key ownership,
// AWS error mapping, throttling, deadlines, cancellation and what goes on
// the wire. Nothing here waits for time to pass: tests wait for the state
// they need, and the ones about deadlines stop the clock (ManualTime).
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <future>

#include "common/clock.hpp"
#include "provider_fixture.hpp"
#include "support/call_options.hpp"
#include "support/local_http_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::awskms {
namespace {

using namespace std::chrono_literals;
using testkit::LocalHttpServer;
using testkit::Reply;
using testkit::respond;
using testkit::ready;
using testkit::wait_until;
using trousseau::testkit::within;

constexpr const char* kArn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// A key of the same account that the provider was not configured with.
constexpr const char* kOlderArn = "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab";
/// A key in someone else's account.
constexpr const char* kForeignArn = "arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab";

Reply aws_error(unsigned status, const std::string& type, const std::string& message) {
  return respond(status, R"({"__type":"com.amazonaws.kms#)" + type + R"(","message":")" + message + R"("})");
}

Reply encrypt_answer(const std::string& key_id, const std::string& blob = "AQIDBA==") {
  return respond(200, R"({"CiphertextBlob":")" + blob + R"(","KeyId":")" + key_id + "\"}");
}

Reply decrypt_answer(const std::string& key_id, ByteView plaintext) {
  return respond(200, R"({"Plaintext":")" + base64_encode(plaintext) + R"(","KeyId":")" + key_id +
                          "\"}");
}

class FakeKmsTest : public ProviderFixture {
 protected:
  /// Creates the provider: its DescribeKey and ListKeyRotations come first.
  /// `extra`: more settings, e.g. "previous_key_ids: [...]".
  std::unique_ptr<Provider> make(std::vector<Reply> then, const std::string& extra = "") {
    std::vector<Reply> replies = {
        respond(200, std::string(R"({"KeyMetadata":{"Arn":")") + kArn + R"(","KeyState":"Enabled"}})"),
        respond(200, R"({"Rotations":[],"Truncated":false})")};
    replies.insert(replies.end(), then.begin(), then.end());
    server.script(std::move(replies));
    auto p = create("key_id: '" + std::string(kArn) + "', endpoint: '" + server.url() +
                        "', cluster_name: prod-eu" + (extra.empty() ? "" : ", " + extra),
                    "fake");
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message());
    return p.ok() ? std::move(p).value() : nullptr;
  }

  /// Starts a wrap and cancels it from the caller's strand in the same
  /// turn, as the engine does: the cancellation is queued on the
  /// operation's strand behind its first step, so it lands while the
  /// credentials are being handed back. The request must never be sent.
  void expect_cancelled_before_sending(Provider& p) {
    const int before = server.requests();
    auto strand = asio::make_strand(io);
    asio::cancellation_signal signal;
    std::promise<Error> done;
    auto lease = std::make_shared<int>(0);
    std::weak_ptr<int> watch = lease;
    asio::post(strand, [&, lease = std::move(lease)]() mutable {
      CallOptions options = within();
      options.lease = std::move(lease);
      p.async_wrap(options, context, share.view(),
                   asio::bind_cancellation_slot(
                       signal.slot(), asio::bind_executor(strand, [&](Error e, WrapResult) {
                         done.set_value(std::move(e));
                       })));
      signal.emit(asio::cancellation_type::terminal);
    });
    Error e = done.get_future().get();
    EXPECT_EQ(e.code(), Code::cancelled) << e.message();
    // The lease goes when the operation has nothing left running.
    ASSERT_TRUE(wait_until([&] { return watch.expired(); }));
    EXPECT_EQ(server.requests(), before) << "the cancelled Encrypt was sent";
  }

  /// Starts a wrap with `options` and returns its outcome's future.
  std::future<std::pair<Error, WrapResult>> start_wrap(Provider& p, const CallOptions& options) {
    return p.async_wrap(options, context, share.view(), asio::use_future([](Error e, WrapResult r) {
      return std::make_pair(std::move(e), std::move(r));
    }));
  }

  LocalHttpServer server;
  ScopedEnv key_id_{"AWS_ACCESS_KEY_ID", "AKIDFAKEKMS"};
  ScopedEnv secret_{"AWS_SECRET_ACCESS_KEY", "fake-secret-key-never-logged"};
  ScopedEnv token_{"AWS_SESSION_TOKEN", nullptr};
  Bytes context = to_bytes("slot context");
  SecretBytes share = SecretBytes::random(32);
};

// --- What goes on the wire ----------------------------------------------------

TEST_F(FakeKmsTest, EncryptCarriesKeyArnContextAndSignature) {
  auto p = make({encrypt_answer(kArn)});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(w.wrapped, (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(w.key_version, kArn);
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  const auto& req = seen[2];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/");
  EXPECT_NE(req.headers.find("X-Amz-Target: TrentService.Encrypt"), std::string::npos);
  EXPECT_NE(req.headers.find("Content-Type: application/x-amz-json-1.1"), std::string::npos);
  EXPECT_NE(req.headers.find("Credential=AKIDFAKEKMS/"), std::string::npos);
  EXPECT_NE(req.headers.find("/eu-west-1/kms/aws4_request"), std::string::npos);
  EXPECT_EQ(req.headers.find("fake-secret-key-never-logged"), std::string::npos);
  boost::json::value body = boost::json::parse(req.body);
  EXPECT_EQ(body.at("KeyId").as_string(), kArn);
  Bytes plain;
  ASSERT_TRUE(base64_decode(std::string(body.at("Plaintext").as_string()), plain));
  EXPECT_TRUE(share.equals(plain));
  const auto& ctx = body.at("EncryptionContext").as_object();
  EXPECT_EQ(ctx.at("trousseau.io/share").as_string(), base64_encode(context));
  EXPECT_EQ(ctx.at("trousseau.io/cluster").as_string(), "prod-eu");
  EXPECT_EQ(ctx.size(), 2u);
}

// --- Key ownership (the confused deputy) ------------------------------------

TEST_F(FakeKmsTest, OwnsOnlyTheConfiguredKeyAndTheListedPreviousKeys) {
  auto p = make({}, "previous_key_ids: ['" + std::string(kOlderArn) + "']");
  ASSERT_TRUE(p);
  const std::string arn = kArn;
  EXPECT_TRUE(p->owns_key_version(arn));
  EXPECT_TRUE(p->owns_key_version(arn + "#material:0123abcd"));
  EXPECT_TRUE(p->owns_key_version(arn + "#rotated:1700000000"));
  EXPECT_TRUE(p->owns_key_version(kOlderArn));
  EXPECT_TRUE(p->owns_key_version(std::string(kOlderArn) + "#rotated:1600000000"));
  for (const std::string& foreign :
       {std::string(kForeignArn), arn + "x", arn + "#rotated:17x", arn + "#material:",
        arn + "#something:1", std::string("arn:aws:kms:eu-west-1:111122223333:alias/trousseau"),
        std::string("sha256:") + std::string(64, 'a'), std::string()}) {
    EXPECT_FALSE(p->owns_key_version(foreign)) << foreign;
  }
}

TEST_F(FakeKmsTest, DecryptRefusesAKeyItWasNotGivenWithoutAnyRequest) {
  auto p = make({decrypt_answer(kForeignArn, share.view())});
  ASSERT_TRUE(p);
  const int before = server.requests();
  for (const std::string& foreign :
       {std::string(kForeignArn), std::string(kOlderArn), std::string(kArn) + "#rotated:x",
        std::string("sha256:not-a-kms-key"), std::string()}) {
    auto [e, s] = unwrap(*p, context, foreign, Bytes{9, 9});
    EXPECT_EQ(e.code(), Code::invalid_argument) << foreign << ": " << e.message();
    EXPECT_NE(e.message().find("previous_key_ids"), std::string::npos) << e.message();
    EXPECT_TRUE(s.empty());
  }
  EXPECT_EQ(server.requests(), before) << "a foreign key was named to KMS";
}

TEST_F(FakeKmsTest, DecryptSendsAListedPreviousKeyAndTheSameContext) {
  auto p = make({decrypt_answer(kOlderArn, share.view())},
                "previous_key_ids: ['" + std::string(kOlderArn) + "']");
  ASSERT_TRUE(p);
  auto [e, s] = unwrap(*p, context, std::string(kOlderArn) + "#rotated:1700000000", Bytes{9, 9});
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_TRUE(s.equals(share.view()));
  boost::json::value body = boost::json::parse(server.seen().back().body);
  EXPECT_EQ(body.at("KeyId").as_string(), kOlderArn);
  EXPECT_EQ(body.at("CiphertextBlob").as_string(), "CQk=");
  EXPECT_EQ(body.at("EncryptionContext").at("trousseau.io/share").as_string(), base64_encode(context));
}

TEST_F(FakeKmsTest, ADecryptAnswerForAnotherKeyIsAnIntegrityErrorAndYieldsNoShare) {
  const std::string no_key_id = R"({"Plaintext":")" + base64_encode(share.view()) + "\"}";
  for (const Reply& answer : {decrypt_answer(kForeignArn, share.view()),
                              decrypt_answer(kOlderArn, share.view()), respond(200, no_key_id)}) {
    auto p = make({answer});
    ASSERT_TRUE(p);
    auto [e, s] = unwrap(*p, context, kArn, Bytes{9, 9});
    EXPECT_EQ(e.code(), Code::integrity) << e.message();
    EXPECT_NE(e.message().find("Decrypt: KeyId mismatch"), std::string::npos) << e.message();
    EXPECT_TRUE(s.empty());
  }
}

TEST_F(FakeKmsTest, AnEncryptAnswerForAnotherKeyIsAnIntegrityError) {
  auto p = make({encrypt_answer(kForeignArn)});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::integrity) << e.message();
  EXPECT_NE(e.message().find("Encrypt: KeyId mismatch"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(std::string("\"") + kForeignArn + "\""), std::string::npos)
      << "the server's KeyId is quoted: " << e.message();
  EXPECT_TRUE(w.wrapped.empty());
  EXPECT_TRUE(w.key_version.empty());
}

// --- Error mapping --------------------------------------------------------------

TEST_F(FakeKmsTest, DisabledKeyIsUnavailableWithTheQuotedAwsMessageAndNoProviderName) {
  auto p = make({aws_error(400, "DisabledException", "the key is disabled")});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_EQ(e.message(), "Encrypt: DisabledException: \"the key is disabled\"");
}

TEST_F(FakeKmsTest, InvalidStateAndNotFoundAreUnavailable) {
  for (const char* type : {"KMSInvalidStateException", "NotFoundException"}) {
    auto p = make({aws_error(400, type, "no")});
    ASSERT_TRUE(p);
    auto [e, w] = wrap(*p, context, share.view());
    EXPECT_EQ(e.code(), Code::unavailable) << type;
  }
}

TEST_F(FakeKmsTest, AuthenticationFailuresArePermissionDenied) {
  for (const char* type : {"AccessDeniedException", "UnrecognizedClientException",
                           "InvalidSignatureException"}) {
    auto p = make({aws_error(400, type, "denied")});
    ASSERT_TRUE(p);
    auto [e, w] = wrap(*p, context, share.view());
    EXPECT_EQ(e.code(), Code::permission_denied) << type << ": " << e.message();
  }
}

TEST_F(FakeKmsTest, EnvelopeCausedDecryptFailuresAreIntegrity) {
  for (const char* type : {"InvalidCiphertextException", "IncorrectKeyException"}) {
    auto p = make({aws_error(400, type, "")});
    ASSERT_TRUE(p);
    auto [e, s] = unwrap(*p, context, kArn, Bytes{1});
    EXPECT_EQ(e.code(), Code::integrity) << type << ": " << e.message();
    EXPECT_NE(e.message().find(type), std::string::npos) << e.message();
    EXPECT_TRUE(s.empty());
  }
}

TEST_F(FakeKmsTest, ThrottlingIsRetriedThenSucceeds) {
  auto p = make({aws_error(400, "ThrottlingException", "Rate exceeded"), respond(429),
                 encrypt_answer(kArn, "AQ==")});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(server.requests(), 5);
}

TEST_F(FakeKmsTest, PersistentThrottlingIsResourceExhausted) {
  auto p = make({aws_error(400, "ThrottlingException", "Rate exceeded")});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::resource_exhausted) << e.message();
  EXPECT_EQ(server.requests(), 2 + 4);  // create's two calls, then every attempt
}

TEST_F(FakeKmsTest, ServerErrorsAreRetriedThenUnavailable) {
  auto p = make({aws_error(500, "KMSInternalException", "oops")});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_NE(e.message().find("KMSInternalException"), std::string::npos) << e.message();
}

// --- Deadlines: the caller's, all the way down -----------------------------------

TEST_F(FakeKmsTest, TheCallersDeadlineEndsAHangingCall) {
  trousseau::ManualTime time;
  auto p = make({testkit::hang()});
  ASSERT_TRUE(p);
  auto result = start_wrap(*p, within(5s));
  ASSERT_TRUE(wait_until([&] { return server.requests() == 3; }));
  EXPECT_FALSE(ready(result)) << "time stands still: only the caller's deadline may end the call";
  time.advance(5s);
  auto [e, w] = result.get();
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_TRUE(wait_until([&] { return server.closed_by_client() >= 1; }));
}

TEST_F(FakeKmsTest, TheProbeRunsWithinTheBudgetItIsGiven) {
  trousseau::ManualTime time;
  auto p = make({testkit::hang()});
  ASSERT_TRUE(p);
  auto result = p->async_probe(within(2s), asio::use_future([](Error e) { return e; }));
  ASSERT_TRUE(wait_until([&] { return server.requests() == 3; }));  // its DescribeKey
  EXPECT_FALSE(ready(result));
  time.advance(2s);
  Error e = result.get();
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_NE(e.message().find("DescribeKey"), std::string::npos) << e.message();
}

class FakeKmsWebIdentityTest : public FakeKmsTest {
 protected:
  /// A provider whose credentials come from STS (the fake `sts`). create()
  /// resolves the key with a chain of its own, so STS sees one call for
  /// create() and one for the provider's first operation.
  std::unique_ptr<Provider> make_with_web_identity(std::vector<Reply> sts_replies,
                                                   std::vector<Reply> kms_replies) {
    testkit::write_file(dir.file("token"), "header.payload.signature\n");
    sts.script(std::move(sts_replies));
    token_file_.emplace("AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token").c_str());
    return make(std::move(kms_replies), "sts_endpoint: '" + sts.url() + "'");
  }

  testkit::TempDir dir;
  LocalHttpServer sts;
  ScopedEnv no_key_{"AWS_ACCESS_KEY_ID", nullptr};
  ScopedEnv no_secret_{"AWS_SECRET_ACCESS_KEY", nullptr};
  ScopedEnv no_profile_{"AWS_PROFILE", nullptr};
  ScopedEnv no_file_{"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/trousseau-test/credentials"};
  ScopedEnv role_{"AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/trousseau"};
  std::optional<ScopedEnv> token_file_;
};

TEST_F(FakeKmsWebIdentityTest, TheCallersDeadlineAlsoBoundsTheWaitForStsCredentials) {
  trousseau::ManualTime time;
  auto p = make_with_web_identity(
      {respond(200, sts_answer("ASIACREATE", WallClock::now() + 1h)), testkit::hang()},
      {encrypt_answer(kArn)});
  ASSERT_TRUE(p);
  auto result = start_wrap(*p, within(3s));
  ASSERT_TRUE(wait_until([&] { return sts.requests() == 2; }));
  EXPECT_FALSE(ready(result));
  time.advance(3s);
  auto [e, w] = result.get();
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_EQ(server.requests(), 2) << "no Encrypt without credentials";
}

// --- Cancellation -------------------------------------------------------------

TEST_F(FakeKmsTest, CancellationClosesTheConnectionInFlight) {
  trousseau::ManualTime time;  // the deadline cannot fire: only the cancellation ends the call
  auto p = make({testkit::hang()});
  ASSERT_TRUE(p);
  asio::cancellation_signal signal;
  std::promise<Error> done;
  auto lease = std::make_shared<int>(0);
  std::weak_ptr<int> watch = lease;
  CallOptions options = within();
  options.lease = std::move(lease);
  p->async_wrap(options, context, share.view(),
                asio::bind_cancellation_slot(signal.slot(), [&](Error e, WrapResult) {
                  done.set_value(std::move(e));
                }));
  options.lease.reset();
  ASSERT_TRUE(wait_until([&] { return server.requests() == 3; }));
  const int closed_before = server.closed_by_client();
  asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  Error e = done.get_future().get();
  EXPECT_EQ(e.code(), Code::cancelled) << e.message();
  EXPECT_TRUE(wait_until([&] { return server.closed_by_client() > closed_before; }));
  EXPECT_TRUE(wait_until([&] { return watch.expired(); })) << "the lease outlived the exchange";
}

TEST_F(FakeKmsTest, ACancellationLandingAsCredentialsArriveSendsNoRequest) {
  auto p = make({encrypt_answer(kArn)});
  ASSERT_TRUE(p);
  expect_cancelled_before_sending(*p);
  // The provider is unharmed: the next call goes through.
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_TRUE(e.ok()) << e.message();
}

TEST_F(FakeKmsWebIdentityTest, ACancellationLandingAsStsCredentialsArriveSendsNoRequest) {
  auto p = make_with_web_identity({respond(200, sts_answer("ASIAONE", WallClock::now() + 1h))},
                                  {encrypt_answer(kArn)});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());  // the provider's chain now holds credentials
  ASSERT_TRUE(e.ok()) << e.message();
  expect_cancelled_before_sending(*p);
}

// --- Probe --------------------------------------------------------------------------

TEST_F(FakeKmsTest, ProbeRequiresAnEnabledKeyThenARoundTrip) {
  const std::string describe = std::string(R"({"KeyMetadata":{"Arn":")") + kArn + R"(","KeyState":"Enabled","CurrentKeyMaterialId":"m2"}})";
  auto p = make({respond(200, describe), encrypt_answer(kArn, "AQ=="),
                 decrypt_answer(kArn, Bytes(32, 0))});
  ASSERT_TRUE(p);
  Error e = probe(*p);
  EXPECT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(p->key_identity(), std::string(kArn) + "#material:m2");
  EXPECT_TRUE(p->owns_key_version(p->key_identity()));
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_NE(seen[3].headers.find("TrentService.Encrypt"), std::string::npos);
  EXPECT_NE(seen[4].headers.find("TrentService.Decrypt"), std::string::npos);
}

TEST_F(FakeKmsTest, ProbeReportsADisabledKeyByItsQuotedState) {
  auto p = make({respond(200, std::string(R"({"KeyMetadata":{"Arn":")") + kArn +
                                  R"(","KeyState":"Disabled"}})")});
  ASSERT_TRUE(p);
  Error e = probe(*p);
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_EQ(e.message(), "DescribeKey: key state is \"Disabled\"");
}

}  // namespace
}  // namespace trousseau::providers::awskms
