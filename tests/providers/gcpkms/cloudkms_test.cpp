// The gcpkms provider against the in-repo Cloud KMS / Google token double
// (tests/doubles/gcp): real TLS, real HTTP, no mocks. Time is never waited
// for: token expiry moves the double's clock (and, where the provider must
// notice, a ManualTime), and requests are counted on the double.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <future>
#include <thread>

#include "cloudkms_double.hpp"
#include "common/log.hpp"
#include "envelope/format.hpp"
#include "providers/gcpkms/gcpkms_provider.hpp"
#include "providers/registry.hpp"
#include "support/call_options.hpp"
#include "support/command.hpp"
#include "support/provider_entry.hpp"
#include "support/provider_runner.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::gcpkms {
namespace {

namespace asio = boost::asio;
using testkit::CloudKmsDouble;
using namespace std::chrono_literals;

/// Providers of this type on an io_context of their own thread
/// (support/provider_runner.hpp).
class Runner : public testkit::ProviderRunner {
 public:
  /// `settings`: the entry's keys as a YAML flow mapping, without braces.
  Result<std::unique_ptr<Provider>> create(const std::string& settings) {
    return ProviderRunner::create("type: gcpkms, " + settings, "gcp");
  }
};

using testkit::probe;
using testkit::unwrap;
using testkit::wrap;

const std::array<std::uint8_t, 12> kNonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
const std::string kServiceAccountToken = "/token";

/// One double for the suite; each test makes its own keys.
class GcpKmsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { double_ = new CloudKmsDouble(); }
  static void TearDownTestSuite() {
    delete double_;
    double_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(double_->running()); }

  std::unique_ptr<Provider> make(const std::string& key, const std::string& extra = "") {
    auto p = runner.create(double_->entry(key, extra));
    EXPECT_TRUE(p.ok()) << p.error().message();
    return p.ok() ? std::move(p.value()) : nullptr;
  }

  static CloudKmsDouble* double_;
  /// Set by tests that hold the clock still: made before any timer of the
  /// runner's, destroyed after the runner.
  std::unique_ptr<ManualTime> time_;
  Runner runner;
  Bytes context = envelope::share_context(kNonce, 2, 1);
  SecretBytes share = SecretBytes::random(32);
};
CloudKmsDouble* GcpKmsTest::double_ = nullptr;

TEST_F(GcpKmsTest, WrapsUnderThePrimaryVersionWithTheContextAsAdditionalData) {
  const std::string key = CloudKmsDouble::key_path("round-trip");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), v1);
  EXPECT_FALSE(p->anyone_can_wrap());  // only Cloud KMS holds the key
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(w.key_version, v1);
  EXPECT_TRUE(p->owns_key_version(w.key_version));
  EXPECT_EQ(double_->count("/v1/" + v1 + ":encrypt", 200), 1);  // the exact version
  auto [e2, back] = unwrap(*p, context, w);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
  EXPECT_EQ(double_->count("/v1/" + key + ":decrypt", 200), 1);
  EXPECT_NE(wrap(*p, context, share.view()).second.wrapped, w.wrapped);  // never repeats
  EXPECT_TRUE(probe(*p).ok());
}

TEST_F(GcpKmsTest, AShareMovedToAnotherSlotOrEnvelopeOrAlteredFailsIntegrity) {
  const std::string key = CloudKmsDouble::key_path("moved");
  double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  const std::array<std::uint8_t, 12> other_nonce{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  for (const Bytes& elsewhere : {envelope::share_context(kNonce, 2, 2), envelope::share_context(kNonce, 3, 1),
                                 envelope::share_context(other_nonce, 2, 1)}) {
    auto [e2, back] = unwrap(*p, elsewhere, w);
    EXPECT_EQ(e2.code(), Code::integrity) << e2.message();
    EXPECT_TRUE(back.empty());
  }
  for (std::size_t at : {std::size_t{1}, w.wrapped.size() / 2, w.wrapped.size() - 1}) {
    WrapResult bad = w;
    bad.wrapped[at] ^= 0x01;
    auto [e3, back] = unwrap(*p, context, bad);
    EXPECT_EQ(e3.code(), Code::integrity) << at << ": " << e3.message();
    EXPECT_TRUE(back.empty());
  }
  WrapResult unknown = w;
  unknown.wrapped[0] = 2;  // a format we do not know: refused before any request
  const int before = double_->count("/v1/");
  EXPECT_EQ(unwrap(*p, context, unknown).first.code(), Code::integrity);
  EXPECT_EQ(double_->count("/v1/"), before);
}

TEST_F(GcpKmsTest, RotationChangesTheIdentityAndOldSharesStillUnwrap) {
  const std::string key = CloudKmsDouble::key_path("rotating");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  auto [e1, w1] = wrap(*p, context, share.view());
  ASSERT_TRUE(e1.ok()) << e1.message();
  const std::string v2 = double_->rotate_key(key);
  ASSERT_NE(v1, v2);
  EXPECT_EQ(p->key_identity(), v1);  // until a probe looks
  ASSERT_TRUE(probe(*p).ok());
  EXPECT_EQ(p->key_identity(), v2);
  auto [e2, w2] = wrap(*p, context, share.view());
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_EQ(w2.key_version, v2);
  EXPECT_EQ(w1.key_version, v1);
  EXPECT_TRUE(p->owns_key_version(v1));
  for (const WrapResult* w : {&w1, &w2}) {
    auto [e, back] = unwrap(*p, context, *w);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_TRUE(back.equals(share.view()));
  }
}

TEST_F(GcpKmsTest, ForeignKeyVersionsAreRefusedWithoutAnyRequest) {
  const std::string key = CloudKmsDouble::key_path("owned");
  const std::string stranger = CloudKmsDouble::key_path("stranger");
  const std::string v1 = double_->create_key(key);
  const std::string sv1 = double_->create_key(stranger);
  auto p = make(key);
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  const int before = double_->count("/v1/");
  for (const std::string& foreign :
       {sv1, key, key + "/cryptoKeyVersions/", key + "/cryptoKeyVersions/01", v1 + "/", "/" + v1,
        std::string("projects/other/locations/europe-west1/keyRings/trousseau/cryptoKeys/owned/cryptoKeyVersions/1"),
        std::string("owned"), std::string()}) {
    EXPECT_FALSE(p->owns_key_version(foreign)) << foreign;
    auto [err, s] = unwrap(*p, context, WrapResult{w.wrapped, foreign});
    EXPECT_EQ(err.code(), Code::invalid_argument) << foreign << ": " << err.message();
  }
  EXPECT_EQ(double_->count("/v1/"), before);
}

TEST_F(GcpKmsTest, PreviousKeysStillUnwrapButNeverWrap) {
  const std::string old_key = CloudKmsDouble::key_path("old-key");
  const std::string new_key = CloudKmsDouble::key_path("new-key");
  double_->create_key(old_key);
  const std::string fresh = double_->create_key(new_key);
  auto old_provider = make(old_key);
  ASSERT_TRUE(old_provider);
  auto [e, w] = wrap(*old_provider, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  auto moved = make(new_key, "previous_keys: [" + old_key + "]");
  auto plain = make(new_key);
  ASSERT_TRUE(moved && plain);
  auto [e2, back] = unwrap(*moved, context, w);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
  EXPECT_EQ(unwrap(*plain, context, w).first.code(), Code::invalid_argument);
  EXPECT_EQ(wrap(*moved, context, share.view()).second.key_version, fresh);
}

TEST_F(GcpKmsTest, ADisabledVersionIsRefusedAndFailsTheProbe) {
  const std::string key = CloudKmsDouble::key_path("disabled");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  double_->set_state(v1, "DISABLED");
  Error we = wrap(*p, context, share.view()).first;
  EXPECT_EQ(we.code(), Code::failed_precondition) << we.message();
  EXPECT_NE(we.message().find("FAILED_PRECONDITION"), std::string::npos) << we.message();
  EXPECT_EQ(unwrap(*p, context, w).first.code(), Code::failed_precondition);
  Error pe = probe(*p);
  EXPECT_EQ(pe.code(), Code::failed_precondition) << pe.message();
  EXPECT_NE(pe.message().find("DISABLED"), std::string::npos) << pe.message();
  double_->set_state(v1, "ENABLED");
  EXPECT_TRUE(probe(*p).ok());
  EXPECT_TRUE(unwrap(*p, context, w).first.ok());
}

TEST_F(GcpKmsTest, AMissingKeyFailsAtStartNamingIt) {
  auto p = runner.create(double_->entry(CloudKmsDouble::key_path("never-created")));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::failed_precondition) << p.error().message();
  EXPECT_NE(p.error().message().find("never-created"), std::string::npos) << p.error().message();
  EXPECT_NE(p.error().message().find("NOT_FOUND"), std::string::npos) << p.error().message();
}

TEST_F(GcpKmsTest, CloudKmsDownAtStartIsResolvedByTheFirstProbeThatReachesIt) {
  const std::string key = CloudKmsDouble::key_path("late");
  const std::string v1 = double_->create_key(key);
  double_->fail("/v1/" + key, 4, 503);  // every attempt of the start-up GET
  auto made = runner.create(double_->entry(key));
  ASSERT_TRUE(made.ok()) << made.error().message();
  Provider& p = **made;
  EXPECT_EQ(p.key_identity(), key + " unresolved");
  const int before = double_->count("/v1/" + key);
  auto [e, w] = wrap(p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_EQ(double_->count("/v1/" + key), before);  // nothing sent under no version
  ASSERT_TRUE(probe(p).ok());
  EXPECT_EQ(p.key_identity(), v1);
  auto [e2, w2] = wrap(p, context, share.view());
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_EQ(w2.key_version, v1);
}

TEST_F(GcpKmsTest, ThrottlingAndOutagesAreRetriedWithinTheDeadline) {
  const std::string key = CloudKmsDouble::key_path("throttled");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  const std::string path = "/v1/" + v1 + ":encrypt";
  double_->fail(path, 1, 429);
  double_->fail(path, 1, 503);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(double_->count(path, 429), 1);
  EXPECT_EQ(double_->count(path, 503), 1);
  EXPECT_EQ(double_->count(path, 200), 1);
  double_->fail(path, 10, 503);
  auto [e2, w2] = wrap(*p, context, share.view());
  EXPECT_EQ(e2.code(), Code::unavailable) << e2.message();
  EXPECT_EQ(double_->count(path, 503), 1 + 4);  // http::RetryPolicy's max_attempts
}

TEST_F(GcpKmsTest, ATokenCloudKmsNoLongerAcceptsIsReplacedAfterA401) {
  const std::string key = CloudKmsDouble::key_path("expired");
  double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  ASSERT_TRUE(wrap(*p, context, share.view()).first.ok());
  const int tokens = double_->count(kServiceAccountToken);
  // Past the token's life on the double's clock only: the provider still
  // holds it as valid, sends it, gets 401, and fetches another one.
  double_->advance_clock(4000);
  const int refused = double_->count("/v1/" + key, 401);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(double_->count("/v1/" + key, 401), refused + 1);
  EXPECT_EQ(double_->count(kServiceAccountToken), tokens + 1);
}

TEST_F(GcpKmsTest, NoKeyTokenOrShareReachesTheLogsOrErrors) {
  const std::string key = CloudKmsDouble::key_path("quiet");
  double_->create_key(key);
  log::set_level(log::Level::debug);
  ::testing::internal::CaptureStderr();
  std::string errors;
  {
    auto p = make(key);
    ASSERT_TRUE(p);
    auto [e, w] = wrap(*p, context, share.view());
    ASSERT_TRUE(e.ok()) << e.message();
    auto [e2, back] = unwrap(*p, context, w);
    ASSERT_TRUE(e2.ok()) << e2.message();
    double_->advance_clock(4000);  // a refused token and a new one
    double_->corrupt("plaintext", 1);
    ASSERT_TRUE(unwrap(*p, context, w).first.ok());
    WrapResult bad = w;
    bad.wrapped[10] ^= 1;
    errors += unwrap(*p, context, bad).first.message();
    errors += unwrap(*p, envelope::share_context(kNonce, 2, 2), w).first.message();
  }
  const std::string logged = ::testing::internal::GetCapturedStderr() + errors;
  log::set_level(log::Level::info);
  const Bytes plain(share.view().begin(), share.view().end());
  const std::string key_file = testkit::read_text_file(double_->service_account_file());
  const std::string pem(boost::json::parse(key_file).at("private_key").as_string());
  for (const std::string& secret : {hex_encode(plain), base64_encode(plain), std::string("Bearer "),
                                    pem.substr(40, 64), std::string("PRIVATE KEY")}) {
    EXPECT_EQ(logged.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(logged.find("obtained a Google access token"), std::string::npos);  // we did capture
  EXPECT_NE(logged.find("CRC32C"), std::string::npos);  // and the discarded answer
}

/// The answers lie about their CRC32C (the double's /double/corrupt): each
/// lie is caught, the request made again, and a lie that persists is an
/// error, never a share.
class GcpKmsIntegrityTest : public GcpKmsTest {};

TEST_F(GcpKmsIntegrityTest, EachLyingEncryptAnswerIsDiscardedAndTheEncryptMadeAgain) {
  const std::string key = CloudKmsDouble::key_path("lying-encrypt");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  const std::string path = "/v1/" + v1 + ":encrypt";
  for (const std::string what : {"verifiedPlaintextCrc32c", "verifiedAdditionalAuthenticatedDataCrc32c",
                                 "ciphertextCrc32c", "ciphertext"}) {
    const int before = double_->count(path, 200);
    double_->corrupt(what, 1);
    auto [e, w] = wrap(*p, context, share.view());
    ASSERT_TRUE(e.ok()) << what << ": " << e.message();
    EXPECT_EQ(double_->count(path, 200), before + 2) << what;
    auto [e2, back] = unwrap(*p, context, w);  // the second answer was the true one
    ASSERT_TRUE(e2.ok()) << what << ": " << e2.message();
    EXPECT_TRUE(back.equals(share.view())) << what;
  }
}

TEST_F(GcpKmsIntegrityTest, EachLyingDecryptAnswerIsDiscardedAndTheDecryptMadeAgain) {
  const std::string key = CloudKmsDouble::key_path("lying-decrypt");
  double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  const std::string path = "/v1/" + key + ":decrypt";
  for (const std::string what : {"plaintextCrc32c", "plaintext"}) {
    const int before = double_->count(path, 200);
    double_->corrupt(what, 1);
    auto [e2, back] = unwrap(*p, context, w);
    ASSERT_TRUE(e2.ok()) << what << ": " << e2.message();
    EXPECT_TRUE(back.equals(share.view())) << what;
    EXPECT_EQ(double_->count(path, 200), before + 2) << what;
  }
}

TEST_F(GcpKmsIntegrityTest, ACorruptionThatPersistsIsUnavailableAndNeverAShare) {
  const std::string key = CloudKmsDouble::key_path("corrupted");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  const std::string decrypts = "/v1/" + key + ":decrypt";
  const int before = double_->count(decrypts);
  double_->corrupt("plaintext", GcpKmsProvider::kIntegrityAttempts);
  auto [e2, back] = unwrap(*p, context, w);
  EXPECT_EQ(e2.code(), Code::unavailable) << e2.message();
  EXPECT_NE(e2.message().find("plaintextCrc32c"), std::string::npos) << e2.message();
  EXPECT_TRUE(back.empty());
  EXPECT_EQ(double_->count(decrypts), before + GcpKmsProvider::kIntegrityAttempts);

  const std::string encrypts = "/v1/" + v1 + ":encrypt";
  const int wraps = double_->count(encrypts);
  double_->corrupt("verifiedPlaintextCrc32c", GcpKmsProvider::kIntegrityAttempts);
  auto [e3, w3] = wrap(*p, context, share.view());
  EXPECT_EQ(e3.code(), Code::unavailable) << e3.message();
  EXPECT_TRUE(w3.wrapped.empty());
  EXPECT_EQ(double_->count(encrypts), wraps + GcpKmsProvider::kIntegrityAttempts);
  double_->corrupt("plaintextCrc32c", GcpKmsProvider::kIntegrityAttempts);
  EXPECT_EQ(probe(*p).code(), Code::unavailable);  // the probe checks too
}

TEST_F(GcpKmsIntegrityTest, AnEncryptAnswerNamingAnotherVersionIsRefused) {
  const std::string key = CloudKmsDouble::key_path("misnamed");
  double_->create_key(key);
  const std::string v2 = double_->rotate_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  double_->corrupt("name", 1);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_NE(e.message().find(v2), std::string::npos) << e.message();
  EXPECT_TRUE(w.key_version.empty());
}

/// Tests that hold the provider's clock still and move it themselves.
class GcpKmsTimeTest : public GcpKmsTest {
 protected:
  GcpKmsTimeTest() { time_ = std::make_unique<ManualTime>(); }
};

TEST_F(GcpKmsTimeTest, TheTokenIsRefreshedBeforeItExpiresWithoutARefusal) {
  const std::string key = CloudKmsDouble::key_path("refreshed");
  double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  ASSERT_TRUE(wrap(*p, context, share.view()).first.ok());  // its first token, at t0
  const int tokens = double_->count(kServiceAccountToken);
  // 3400 s into the token's hour: within the 300 s refresh margin.
  time_->advance(3400s);
  double_->advance_clock(3400);
  // The cached token, still good; the refresh it starts runs within this
  // call's deadline, so give it one that the clock moves below do not pass:
  // the double counts the token request before it answers, and the answer
  // may reach the provider only after them.
  ASSERT_TRUE(wrap(*p, context, share.view(), testkit::within(24h)).first.ok());
  ASSERT_TRUE(testkit::wait_until([&] { return double_->count(kServiceAccountToken) == tokens + 1; }));
  // t0 + 6650 s: past the first token's end (t0 + 3600 s), and 350 s before
  // the second one's, outside the margin: it is used, no 401 on the way.
  time_->advance(3250s);
  double_->advance_clock(3250);
  const int refused = double_->count("/v1/", 401);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(double_->count("/v1/", 401), refused);
  EXPECT_EQ(double_->count(kServiceAccountToken), tokens + 1);
}

TEST_F(GcpKmsTimeTest, CancellationDuringARetryPauseCompletesOnceWithCancelled) {
  const std::string key = CloudKmsDouble::key_path("cancelled");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  const std::string path = "/v1/" + v1 + ":encrypt";
  // The client pauses before each retry on the provider's clock, which
  // does not move: the operation waits there until the cancellation.
  double_->fail(path, 10, 503);
  asio::cancellation_signal signal;
  std::promise<Code> done;
  std::atomic<int> calls{0};
  auto strand = asio::make_strand(runner.io);
  auto lease = std::make_shared<int>(0);
  std::weak_ptr<int> watch = lease;
  asio::post(strand, [&, lease]() mutable {
    CallOptions o = testkit::within(60s);
    o.lease = std::move(lease);
    p->async_wrap(o, context, share.view(),
                  asio::bind_cancellation_slot(signal.slot(), asio::bind_executor(strand, [&](Error e, WrapResult) {
                    if (calls++ == 0) done.set_value(e.code());
                  })));
  });
  lease.reset();
  ASSERT_TRUE(testkit::wait_until([&] { return double_->count(path, 503) >= 1; }));
  asio::post(strand, [&] { signal.emit(asio::cancellation_type::terminal); });
  EXPECT_EQ(done.get_future().get(), Code::cancelled);
  ASSERT_TRUE(testkit::wait_until([&] { return watch.expired(); }));  // the lease is let go
  EXPECT_LT(double_->count(path, 503), 4);
  EXPECT_EQ(double_->count(path, 200), 0);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(GcpKmsTimeTest, TheDeadlineEndsACallThatWouldWaitPastIt) {
  const std::string key = CloudKmsDouble::key_path("deadline");
  const std::string v1 = double_->create_key(key);
  auto p = make(key);
  ASSERT_TRUE(p);
  const std::string path = "/v1/" + v1 + ":encrypt";
  // A deadline already behind us: nothing is sent.
  auto [e, w] = wrap(*p, context, share.view(), testkit::within(-1s));
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_EQ(double_->count(path), 0);
  // The call's whole budget covers the token too: with none cached and the
  // deadline gone, the wait for one ends at once as well.
  double_->advance_clock(4000);
  time_->advance(4000s);
  const int tokens = double_->count(kServiceAccountToken);
  auto [e2, w2] = wrap(*p, context, share.view(), testkit::within(-1s));
  EXPECT_EQ(e2.code(), Code::deadline_exceeded) << e2.message();
  EXPECT_EQ(double_->count(kServiceAccountToken), tokens);
}

/// Each way of getting a Google token reaches the double's endpoints.
class GcpKmsAuthTest : public GcpKmsTest {
 protected:
  std::string with_auth(const std::string& key, const std::string& auth) {
    std::string entry = double_->entry(key);
    return entry.substr(0, entry.find("auth: ")) + "auth: " + auth;
  }
  void round_trip(const std::string& name, const std::string& auth, const std::string& token_path) {
    const std::string key = CloudKmsDouble::key_path(name);
    double_->create_key(key);
    const int before = double_->count(token_path, 200);
    auto p = runner.create(with_auth(key, auth));
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_EQ(double_->count(token_path, 200), before + 1);
    auto [e, w] = wrap(**p, context, share.view());
    ASSERT_TRUE(e.ok()) << e.message();
    auto [e2, back] = unwrap(**p, context, w);
    ASSERT_TRUE(e2.ok()) << e2.message();
    EXPECT_TRUE(back.equals(share.view()));
  }
};

TEST_F(GcpKmsAuthTest, ServiceAccountKeyJwtGrant) {
  round_trip("by-key", double_->auth_service_account(), "/token");
}

TEST_F(GcpKmsAuthTest, WorkloadIdentityFederationThroughSts) {
  round_trip("by-federation", double_->auth_external_account(), "/v1/token");
}

TEST_F(GcpKmsAuthTest, MetadataServer) {
  round_trip("by-metadata", double_->auth_metadata(),
             "/computeMetadata/v1/instance/service-accounts/default/token");
}

TEST_F(GcpKmsAuthTest, GoogleApplicationCredentialsNamesTheFileWhenTheSettingDoesNot) {
  const std::string key = CloudKmsDouble::key_path("by-environment");
  double_->create_key(key);
  ::setenv("GOOGLE_APPLICATION_CREDENTIALS", double_->service_account_file().c_str(), 1);
  auto p = runner.create(with_auth(key, "{method: service_account_key}"));
  ::unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_TRUE(wrap(**p, context, share.view()).first.ok());
  auto none = runner.create(with_auth(key, "{method: service_account_key}"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Code::failed_precondition) << none.error().message();
}

TEST_F(GcpKmsAuthTest, AKeyGoogleDoesNotKnowIsRefusedAtStart) {
  const std::string key = CloudKmsDouble::key_path("wrong-key");
  double_->create_key(key);
  testkit::TempDir dir;
  testkit::CommandResult r = testkit::run_command(
      {"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", dir.file("k.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::object file = boost::json::parse(testkit::read_text_file(double_->service_account_file())).as_object();
  file["private_key"] = testkit::read_text_file(dir.file("k.pem"));
  testkit::write_file(dir.file("key.json"), boost::json::serialize(file), 0600);
  auto p = runner.create(with_auth(key, "{method: service_account_key, credentials_file: " + dir.file("key.json") + "}"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::permission_denied) << p.error().message();
  EXPECT_NE(p.error().message().find("invalid_grant"), std::string::npos) << p.error().message();
}

TEST_F(GcpKmsAuthTest, TheSubjectTokenFileIsReadForEachExchange) {
  const std::string key = CloudKmsDouble::key_path("reread");
  double_->create_key(key);
  testkit::TempDir dir;
  const std::string token = dir.file("token");
  testkit::write_file(token, testkit::read_text_file(double_->subject_token_file()), 0644);
  boost::json::object account =
      boost::json::parse(testkit::read_text_file(double_->external_account_file())).as_object();
  account["credential_source"].as_object()["file"] = token;
  testkit::write_file(dir.file("external.json"), boost::json::serialize(account), 0644);
  auto p = runner.create(
      with_auth(key, "{method: workload_identity_federation, credentials_file: " + dir.file("external.json") + "}"));
  ASSERT_TRUE(p.ok()) << p.error().message();
  // A rotated (here: broken) token file is read at the next exchange: after
  // the token expires on the double, Cloud KMS refuses it, the provider
  // exchanges again, and STS refuses the new subject token.
  testkit::write_file(token, "not.a.jwt", 0644);
  double_->advance_clock(4000);
  Error e = wrap(**p, context, share.view()).first;
  EXPECT_EQ(e.code(), Code::permission_denied) << e.message();
}

}  // namespace
}  // namespace trousseau::providers::gcpkms
