// The awskms provider against a scripted local HTTP server: AWS error
// mapping, throttling, cancellation and what goes on the wire.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <future>

#include "support/call_options.hpp"
#include "provider_fixture.hpp"
#include "support/local_http_server.hpp"

namespace trousseau::providers::awskms {
namespace {

using namespace std::chrono_literals;
using testing::LocalHttpServer;
using testing::Reply;
using testing::respond;

constexpr const char* kArn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

Reply aws_error(unsigned status, const std::string& type, const std::string& message) {
  return respond(status, R"({"__type":"com.amazonaws.kms#)" + type + R"(","message":")" + message + R"("})");
}

class FakeKmsTest : public ProviderFixture {
 protected:
  /// Creates the provider: its DescribeKey and ListKeyRotations come first.
  std::unique_ptr<Provider> make(std::vector<Reply> then) {
    std::vector<Reply> replies = {
        respond(200, std::string(R"({"KeyMetadata":{"Arn":")") + kArn + R"(","KeyState":"Enabled"}})"),
        respond(200, R"({"Rotations":[],"Truncated":false})")};
    replies.insert(replies.end(), then.begin(), then.end());
    server.script(std::move(replies));
    auto p = create("key_id: '" + std::string(kArn) + "', endpoint: '" + server.url() +
                        "', cluster_name: prod-eu, request_timeout: 3s",
                    "fake");
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message());
    return p.ok() ? std::move(p).value() : nullptr;
  }

  LocalHttpServer server;
  ScopedEnv key_id_{"AWS_ACCESS_KEY_ID", "AKIDFAKEKMS"};
  ScopedEnv secret_{"AWS_SECRET_ACCESS_KEY", "fake-secret-key-never-logged"};
  ScopedEnv token_{"AWS_SESSION_TOKEN", nullptr};
  Bytes context = to_bytes("slot context");
  SecretBytes share = SecretBytes::random(32);
};

TEST_F(FakeKmsTest, EncryptCarriesKeyArnContextAndSignature) {
  auto p = make({respond(200, std::string(R"({"CiphertextBlob":"AQIDBA==","KeyId":")") + kArn + "\"}")});
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

TEST_F(FakeKmsTest, DecryptPassesTheRecordedKeyAndTheSameContext) {
  auto p = make({respond(200, R"({"Plaintext":")" + base64_encode(share.view()) + "\"}")});
  ASSERT_TRUE(p);
  const std::string older = "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab";
  auto [e, s] = unwrap(*p, context, older + "#rotated:1700000000", Bytes{9, 9});
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_TRUE(s.equals(share.view()));
  boost::json::value body = boost::json::parse(server.seen().back().body);
  EXPECT_EQ(body.at("KeyId").as_string(), older);
  EXPECT_EQ(body.at("CiphertextBlob").as_string(), "CQk=");
  EXPECT_EQ(body.at("EncryptionContext").at("trousseau.io/share").as_string(), base64_encode(context));
}

TEST_F(FakeKmsTest, DisabledKeyIsUnavailableWithTheAwsMessage) {
  auto p = make({aws_error(400, "DisabledException", "the key is disabled")});
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_NE(e.message().find("awskms fake: Encrypt: DisabledException: the key is disabled"),
            std::string::npos)
      << e.message();
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

TEST_F(FakeKmsTest, InvalidCiphertextIsIntegrity) {
  auto p = make({aws_error(400, "InvalidCiphertextException", "")});
  ASSERT_TRUE(p);
  auto [e, s] = unwrap(*p, context, kArn, Bytes{1});
  EXPECT_EQ(e.code(), Code::integrity) << e.message();
}

TEST_F(FakeKmsTest, ThrottlingIsRetriedThenSucceeds) {
  auto p = make({aws_error(400, "ThrottlingException", "Rate exceeded"), respond(429),
                 respond(200, std::string(R"({"CiphertextBlob":"AQ==","KeyId":")") + kArn + "\"}")});
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

TEST_F(FakeKmsTest, CancellationClosesTheConnectionPromptly) {
  auto p = make({testing::hang()});
  ASSERT_TRUE(p);
  asio::cancellation_signal signal;
  std::promise<std::pair<Error, std::chrono::steady_clock::time_point>> done;
  p->async_wrap(::trousseau::testing::within(), context, share.view(),
                asio::bind_cancellation_slot(signal.slot(), [&](Error e, WrapResult) {
                  done.set_value({std::move(e), std::chrono::steady_clock::now()});
                }));
  for (int i = 0; i < 200 && server.requests() < 3; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server.requests(), 3);
  const int closed_before = server.closed_by_client();
  const auto cancelled_at = std::chrono::steady_clock::now();
  asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(1s), std::future_status::ready);
  auto [e, at] = fut.get();
  EXPECT_EQ(e.code(), Code::cancelled) << e.message();
  EXPECT_LT(at - cancelled_at, 100ms);
  EXPECT_TRUE(server.wait_closed_by_client(closed_before + 1, 200ms));
}

TEST_F(FakeKmsTest, RequestTimeoutBoundsAHangingCall) {
  auto p = make({testing::hang()});
  ASSERT_TRUE(p);
  const auto start = std::chrono::steady_clock::now();
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3500ms);
}

TEST_F(FakeKmsTest, ProbeRequiresAnEnabledKeyThenARoundTrip) {
  const std::string describe = std::string(R"({"KeyMetadata":{"Arn":")") + kArn + R"(","KeyState":"Enabled","CurrentKeyMaterialId":"m2"}})";
  auto p = make({respond(200, describe),
                 respond(200, std::string(R"({"CiphertextBlob":"AQ==","KeyId":")") + kArn + "\"}"),
                 respond(200, R"({"Plaintext":")" + base64_encode(Bytes(32, 0)) + "\"}")});
  ASSERT_TRUE(p);
  Error e = probe(*p);
  EXPECT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(p->key_identity(), std::string(kArn) + "#material:m2");
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_NE(seen[3].headers.find("TrentService.Encrypt"), std::string::npos);
  EXPECT_NE(seen[4].headers.find("TrentService.Decrypt"), std::string::npos);
}

}  // namespace
}  // namespace trousseau::providers::awskms
