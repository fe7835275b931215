// The awskms provider against moto_server: real HTTP, real SigV4, real
// KMS semantics (as far as moto emulates them).
#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>
#include <fstream>

#include "moto.hpp"
#include "provider_fixture.hpp"
#include "providers/awskms/credentials.hpp"
#include "providers/awskms/key_metadata.hpp"

namespace trousseau::providers::awskms {
namespace {

using namespace std::chrono_literals;
using testkit::MotoServer;

class AwsKmsMotoTest : public ProviderFixture {
 protected:
  static void SetUpTestSuite() { moto_ = new MotoServer(); }
  static void TearDownTestSuite() {
    delete moto_;
    moto_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(moto_->running()) << moto_->log_tail(); }

  std::string settings(const std::string& key, const std::string& cluster = "test") {
    return "region: us-east-1, key_id: '" + key + "', endpoint: '" + moto_->endpoint() +
           "', cluster_name: " + cluster;
  }

  std::unique_ptr<Provider> make(const std::string& key, const std::string& cluster = "test",
                                 const std::string& extra = "") {
    auto p = create(settings(key, cluster) + (extra.empty() ? "" : ", " + extra));
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message());
    return p.ok() ? std::move(p).value() : nullptr;
  }

  static inline MotoServer* moto_ = nullptr;
  ScopedEnv key_id_{"AWS_ACCESS_KEY_ID", MotoServer::kAccessKey};
  ScopedEnv secret_{"AWS_SECRET_ACCESS_KEY", MotoServer::kSecretKey};
  ScopedEnv token_{"AWS_SESSION_TOKEN", nullptr};
  Bytes context = to_bytes("envelope header");
};

TEST_F(AwsKmsMotoTest, WrapUnwrapRoundTrip) {
  const std::string arn = moto_->create_key();
  auto p = make(arn);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), arn);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(err.ok()) << err.message();
  EXPECT_EQ(w.key_version, arn);
  EXPECT_FALSE(w.wrapped.empty());
  auto [err2, back] = unwrap(*p, context, w.key_version, w.wrapped);
  ASSERT_TRUE(err2.ok()) << err2.message();
  EXPECT_TRUE(back.equals(share.view()));
}

TEST_F(AwsKmsMotoTest, AnotherContextOrClusterFailsIntegrity) {
  auto p = make(moto_->create_key());
  ASSERT_TRUE(p);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(err.ok()) << err.message();
  auto [e1, s1] = unwrap(*p, to_bytes("another slot"), w.key_version, w.wrapped);
  EXPECT_EQ(e1.code(), Code::integrity) << e1.message();
  EXPECT_EQ(e1.message().find("awskms"), std::string::npos) << "the engine names the provider";
  EXPECT_TRUE(s1.empty());
  auto other_cluster = make(arn_of_identity(w.key_version), "another-cluster");
  ASSERT_TRUE(other_cluster);
  auto [e2, s2] = unwrap(*other_cluster, context, w.key_version, w.wrapped);
  EXPECT_EQ(e2.code(), Code::integrity) << e2.message();
}

TEST_F(AwsKmsMotoTest, TamperedBlobFailsIntegrity) {
  auto p = make(moto_->create_key());
  ASSERT_TRUE(p);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(err.ok());
  Bytes bad = w.wrapped;
  bad.back() ^= 0x01;
  auto [e, s] = unwrap(*p, context, w.key_version, bad);
  EXPECT_EQ(e.code(), Code::integrity) << e.message();
  EXPECT_NE(e.message().find("InvalidCiphertextException"), std::string::npos);
}

TEST_F(AwsKmsMotoTest, AShareOfAnotherKeyOurCredentialsReachIsRefused) {
  // Both keys are in the same account: KMS would decrypt under either.
  auto ours = make(moto_->create_key());
  auto theirs = make(moto_->create_key());
  ASSERT_TRUE(ours && theirs);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*theirs, context, share.view());
  ASSERT_TRUE(err.ok()) << err.message();
  EXPECT_FALSE(ours->owns_key_version(w.key_version));
  auto [e, s] = unwrap(*ours, context, w.key_version, w.wrapped);
  EXPECT_EQ(e.code(), Code::invalid_argument) << e.message();
  EXPECT_TRUE(s.empty());
  auto [e2, s2] = unwrap(*ours, context, "sha256:not-a-kms-key", to_bytes("x"));
  EXPECT_EQ(e2.code(), Code::invalid_argument) << e2.message();
}

TEST_F(AwsKmsMotoTest, ARePointedAliasStillOpensSharesOfAListedPreviousKey) {
  const std::string before = moto_->create_key();
  const std::string after = moto_->create_key();
  moto_->create_alias("alias/trousseau-repointed", before);
  auto old_provider = make("alias/trousseau-repointed");
  ASSERT_TRUE(old_provider);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*old_provider, context, share.view());
  ASSERT_TRUE(err.ok()) << err.message();
  ASSERT_EQ(arn_of_identity(w.key_version), before);

  moto_->update_alias("alias/trousseau-repointed", after);
  auto listed = make("alias/trousseau-repointed", "test", "previous_key_ids: ['" + before + "']");
  ASSERT_TRUE(listed);
  EXPECT_EQ(arn_of_identity(listed->key_identity()), after);
  auto [e, back] = unwrap(*listed, context, w.key_version, w.wrapped);
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_TRUE(back.equals(share.view()));
  auto [e2, w2] = wrap(*listed, context, share.view());
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_EQ(arn_of_identity(w2.key_version), after) << "a previous key never wraps";

  auto unlisted = make("alias/trousseau-repointed");
  ASSERT_TRUE(unlisted);
  auto [e3, s3] = unwrap(*unlisted, context, w.key_version, w.wrapped);
  EXPECT_EQ(e3.code(), Code::invalid_argument) << e3.message();
  EXPECT_TRUE(s3.empty());
}

TEST_F(AwsKmsMotoTest, AliasResolvesToTheKeyArnAtCreate) {
  const std::string arn = moto_->create_key();
  moto_->create_alias("alias/trousseau-test", arn);
  auto p = make("alias/trousseau-test");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), arn);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(err.ok()) << err.message();
  EXPECT_EQ(w.key_version, arn);  // the ARN is recorded, never the alias
}

TEST_F(AwsKmsMotoTest, AnUnknownAliasFailsCreateWithTheAwsError) {
  auto p = create(settings("alias/does-not-exist"), "aws-missing");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("NotFoundException"), std::string::npos)
      << p.error().message();
  EXPECT_NE(p.error().message().find("\"alias/does-not-exist\""), std::string::npos)
      << p.error().message();
  EXPECT_EQ(p.error().message().find("aws-missing"), std::string::npos)
      << "whoever builds the provider names it: " << p.error().message();
}

TEST_F(AwsKmsMotoTest, ProbeSucceedsOnAnEnabledKey) {
  auto p = make(moto_->create_key());
  ASSERT_TRUE(p);
  Error e = probe(*p);
  EXPECT_TRUE(e.ok()) << e.message();
}

TEST_F(AwsKmsMotoTest, ADisabledKeyFailsTheProbeAsUnavailable) {
  const std::string arn = moto_->create_key();
  auto p = make(arn);
  ASSERT_TRUE(p);
  moto_->disable_key(arn);
  Error e = probe(*p);
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_NE(e.message().find("\"Disabled\""), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("awskms"), std::string::npos) << e.message();
}

TEST_F(AwsKmsMotoTest, RotationChangesTheKeyIdentityAtTheNextProbe) {
  const std::string arn = moto_->create_key();
  auto p = make(arn);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), arn);
  moto_->rotate_key(arn);
  EXPECT_EQ(p->key_identity(), arn);  // no I/O in key_identity()
  ASSERT_TRUE(probe(*p).ok());
  const std::string rotated = p->key_identity();
  EXPECT_EQ(rotated.rfind(arn + "#rotated:", 0), 0u) << rotated;
  // Shares wrapped before and after the rotation both open.
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(w.key_version, rotated);
  auto [e2, back] = unwrap(*p, context, w.key_version, w.wrapped);
  EXPECT_TRUE(e2.ok()) << e2.message();
  ASSERT_TRUE(probe(*p).ok());
  EXPECT_EQ(p->key_identity(), rotated);  // stable while nothing changes
}

TEST_F(AwsKmsMotoTest, WebIdentityCredentialsComeFromStsAssumeRoleWithWebIdentity) {
  testkit::TempDir dir;
  testkit::write_file(dir.file("token"), "eyJhbGciOiJSUzI1NiJ9.test.token\n");
  ChainOptions options;
  options.env = {{"AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token")},
                 {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/trousseau"},
                 {"AWS_ROLE_SESSION_NAME", "trousseau-test"}};
  options.region = "us-east-1";
  options.sts_endpoint = moto_->endpoint();
  auto chain = CredentialChain::create(io.get_executor(), options);
  ASSERT_TRUE(chain.ok()) << chain.error().message();
  EXPECT_NE((*chain)->source().find("web identity"), std::string::npos);
  auto [err, creds] = (*chain)->async_get(
      Clock::now() + 30s,
      asio::use_future([](Error e, CredentialsPtr c) { return std::make_pair(e, c); })).get();
  ASSERT_TRUE(err.ok()) << err.message();
  ASSERT_TRUE(creds);
  EXPECT_FALSE(creds->access_key_id.empty());
  EXPECT_FALSE(creds->secret_access_key.empty());
  EXPECT_FALSE(creds->session_token.empty());
  ASSERT_TRUE(creds->expiration.has_value());
  EXPECT_GT(*creds->expiration, WallClock::now() + 5min);

  // And the provider works end to end with them.
  ScopedEnv no_key("AWS_ACCESS_KEY_ID", nullptr), no_secret("AWS_SECRET_ACCESS_KEY", nullptr);
  ScopedEnv no_file("AWS_SHARED_CREDENTIALS_FILE", dir.file("absent").c_str());
  ScopedEnv token("AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token").c_str());
  ScopedEnv role("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/trousseau");
  auto p = create(settings(moto_->create_key()) + ", sts_endpoint: '" + moto_->endpoint() + "'");
  ASSERT_TRUE(p.ok()) << p.error().message();
  SecretBytes share = SecretBytes::random(32);
  auto [e1, w] = wrap(**p, context, share.view());
  ASSERT_TRUE(e1.ok()) << e1.message();
  auto [e2, back] = unwrap(**p, context, w.key_version, w.wrapped);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
}

TEST_F(AwsKmsMotoTest, HarnessStopsAndRestartsOnTheSamePort) {
  MotoServer own;
  ASSERT_TRUE(own.running()) << own.log_tail();
  const std::string arn = own.create_key();
  auto p = create("region: us-east-1, key_id: '" + arn + "', endpoint: '" + own.endpoint() +
                  "', cluster_name: test");
  ASSERT_TRUE(p.ok()) << p.error().message();
  const auto port = own.port();
  own.stop();
  EXPECT_FALSE(own.running());
  SecretBytes share = SecretBytes::random(32);
  auto [e, w] = wrap(**p, context, share.view());  // refused connections, retried, then given up
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  own.restart();
  ASSERT_TRUE(own.running()) << own.log_tail();
  EXPECT_EQ(own.port(), port);
  // moto forgot the key: a fresh one on the same endpoint works again.
  auto q = create("region: us-east-1, key_id: '" + own.create_key() + "', endpoint: '" +
                  own.endpoint() + "', cluster_name: test");
  ASSERT_TRUE(q.ok()) << q.error().message();
  auto [e2, w2] = wrap(**q, context, share.view());
  EXPECT_TRUE(e2.ok()) << e2.message();
}

}  // namespace
}  // namespace trousseau::providers::awskms
