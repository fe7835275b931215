// The azurekv provider against the in-repo Key Vault / Managed HSM / Entra
// double (tests/doubles/azure): real TLS, real HTTP, no mocks. Time is
// never waited for: token expiry moves the double's clock (and, where the
// provider must notice, a ManualTime), and requests are counted on the
// double.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "common/log.hpp"
#include "envelope/format.hpp"
#include "keyvault_double.hpp"
#include "providers/registry.hpp"
#include "support/call_options.hpp"
#include "support/provider_entry.hpp"
#include "support/provider_runner.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::azurekv {
namespace {

namespace asio = boost::asio;
using testkit::KeyVaultDouble;
using namespace std::chrono_literals;

/// Providers of this type on an io_context of their own thread
/// (support/provider_runner.hpp).
class Runner : public testkit::ProviderRunner {
 public:
  /// `settings`: the entry's keys as a YAML flow mapping, without braces.
  Result<std::unique_ptr<Provider>> create(const std::string& settings) {
    return ProviderRunner::create("type: azurekv, " + settings, "az");
  }
};

using testkit::probe;
using testkit::unwrap;
using testkit::wrap;

const std::array<std::uint8_t, 12> kNonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/// One vault double for the suite; each test makes its own keys.
class AzureKvVaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { double_ = new KeyVaultDouble(); }
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

  static KeyVaultDouble* double_;
  /// Set by tests that hold the clock still: made before any timer of the
  /// runner's, destroyed after the runner.
  std::unique_ptr<ManualTime> time_;
  Runner runner;
  Bytes context = envelope::share_context(kNonce, 2, 1);
  SecretBytes share = SecretBytes::random(32);
};
KeyVaultDouble* AzureKvVaultTest::double_ = nullptr;

TEST_F(AzureKvVaultTest, WrapsWithRsaOaep256AndUnwrapsUnderTheExactVersion) {
  const std::string kid = double_->create_key("round-trip", "RSA", 2048);
  auto p = make("round-trip");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), kid + " RSA-OAEP-256");
  EXPECT_TRUE(p->anyone_can_wrap());  // RSA-OAEP needs only the public key
  const int wraps = double_->count("/keys/round-trip/");
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(w.key_version, kid);
  EXPECT_TRUE(p->owns_key_version(w.key_version));
  EXPECT_EQ(double_->count("/keys/round-trip/" + kid.substr(kid.rfind('/') + 1) + "/wrapkey", 200), 1);
  auto [e2, back] = unwrap(*p, context, w);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
  EXPECT_EQ(double_->count("/keys/round-trip/"), wraps + 2);
  EXPECT_TRUE(probe(*p).ok());
}

TEST_F(AzureKvVaultTest, RotationChangesTheIdentityAndOldVersionsStillUnwrap) {
  const std::string v1 = double_->create_key("rotating", "RSA");
  auto p = make("rotating");
  ASSERT_TRUE(p);
  auto [e1, w1] = wrap(*p, context, share.view());
  ASSERT_TRUE(e1.ok()) << e1.message();
  const std::string v2 = double_->rotate_key("rotating");
  ASSERT_NE(v1, v2);
  EXPECT_EQ(p->key_identity(), v1 + " RSA-OAEP-256");  // until a probe looks
  ASSERT_TRUE(probe(*p).ok());
  EXPECT_EQ(p->key_identity(), v2 + " RSA-OAEP-256");
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

TEST_F(AzureKvVaultTest, AShareMovedToAnotherSlotOrEnvelopeFailsIntegrity) {
  double_->create_key("moved", "RSA");
  auto p = make("moved");
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
}

TEST_F(AzureKvVaultTest, TamperedWrapsFailIntegrityWhereverTheByteIs) {
  double_->create_key("tampered", "RSA");
  auto p = make("tampered");
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  // In the vault's part (the vault refuses it), in the nonce, in the sealed share.
  for (std::size_t at : {std::size_t{10}, std::size_t{4 + 256 + 2}, w.wrapped.size() - 1}) {
    WrapResult bad = w;
    bad.wrapped[at] ^= 0x01;
    auto [e2, back] = unwrap(*p, context, bad);
    EXPECT_EQ(e2.code(), Code::integrity) << at << ": " << e2.message();
    EXPECT_TRUE(back.empty());
  }
}

TEST_F(AzureKvVaultTest, ForeignKeyVersionsAreRefusedWithoutAnyRequest) {
  const std::string kid = double_->create_key("owned", "RSA");
  double_->create_key("stranger", "RSA");
  auto p = make("owned");
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  const std::string version = kid.substr(kid.rfind('/') + 1);
  const std::string base = kid.substr(0, kid.find("/keys/"));
  const int before = double_->count("/keys/");
  for (const std::string& foreign :
       {base + "/keys/stranger/" + version, base + "/keys/owned", base + "/keys/owned/",
        "https://evil.vault.azure.net/keys/owned/" + version, base + "/keys/owned/" + version + "/x",
        std::string("owned"), std::string()}) {
    EXPECT_FALSE(p->owns_key_version(foreign)) << foreign;
    auto [err, s] = unwrap(*p, context, WrapResult{w.wrapped, foreign});
    EXPECT_EQ(err.code(), Code::invalid_argument) << foreign << ": " << err.message();
  }
  EXPECT_EQ(double_->count("/keys/"), before);
}

TEST_F(AzureKvVaultTest, AVersionOfOurKeyThatDoesNotExistIsTheEnvelopesFault) {
  const std::string kid = double_->create_key("versions", "RSA");
  auto p = make("versions");
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  // Well formed, of our key, owned, but never made: the vault answers 404.
  const std::string made_up = kid.substr(0, kid.rfind('/') + 1) + std::string(32, 'f');
  ASSERT_TRUE(p->owns_key_version(made_up));
  auto [e2, back] = unwrap(*p, context, WrapResult{w.wrapped, made_up});
  EXPECT_EQ(e2.code(), Code::invalid_argument) << e2.message();  // does not count against health
  EXPECT_NE(e2.message().find("KeyNotFound"), std::string::npos) << e2.message();
}

TEST_F(AzureKvVaultTest, PreviousKeyNamesStillUnwrapButNeverWrap) {
  double_->create_key("old-name", "RSA");
  const std::string fresh = double_->create_key("new-name", "RSA");
  auto old_provider = make("old-name");
  ASSERT_TRUE(old_provider);
  auto [e, w] = wrap(*old_provider, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  auto renamed = make("new-name", "previous_key_names: [old-name]");
  auto plain = make("new-name");
  ASSERT_TRUE(renamed && plain);
  auto [e2, back] = unwrap(*renamed, context, w);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
  EXPECT_EQ(unwrap(*plain, context, w).first.code(), Code::invalid_argument);
  EXPECT_EQ(wrap(*renamed, context, share.view()).second.key_version, fresh);
}

TEST_F(AzureKvVaultTest, ThrottlingIsRetriedAndSucceeds) {
  const std::string kid = double_->create_key("throttled", "RSA");
  auto p = make("throttled");
  ASSERT_TRUE(p);
  const std::string path = "/keys/throttled/" + kid.substr(kid.rfind('/') + 1) + "/wrapkey";
  double_->fail(path, 1, 429, 0);
  double_->fail(path, 1, 503, 0);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(double_->count(path, 429), 1);
  EXPECT_EQ(double_->count(path, 503), 1);
  EXPECT_EQ(double_->count(path, 200), 1);
}

TEST_F(AzureKvVaultTest, AnOutageOutlastingTheRetriesIsUnavailable) {
  const std::string kid = double_->create_key("down", "RSA");
  auto p = make("down");
  ASSERT_TRUE(p);
  const std::string path = "/keys/down/" + kid.substr(kid.rfind('/') + 1) + "/wrapkey";
  double_->fail(path, 10, 503, 0);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_EQ(double_->count(path, 503), 4);  // http::RetryPolicy's max_attempts
}

TEST_F(AzureKvVaultTest, ARetryAfterBeyondTheDeadlineAnswersAtOnce) {
  const std::string kid = double_->create_key("later", "RSA");
  auto p = make("later");
  ASSERT_TRUE(p);
  const std::string path = "/keys/later/" + kid.substr(kid.rfind('/') + 1) + "/wrapkey";
  double_->fail(path, 5, 429, 3600);
  auto [e, w] = wrap(*p, context, share.view(), testkit::within(10s));
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_NE(e.message().find("429"), std::string::npos) << e.message();
  EXPECT_EQ(double_->count(path, 429), 1);  // not asked again before the hour is up
}

TEST_F(AzureKvVaultTest, ATokenTheVaultNoLongerAcceptsIsReplacedAfterTheChallenge) {
  double_->create_key("challenged", "RSA");
  auto p = make("challenged");
  ASSERT_TRUE(p);
  ASSERT_TRUE(wrap(*p, context, share.view()).first.ok());
  const int tokens = double_->count("/" + std::string(KeyVaultDouble::kTenant) + "/oauth2/v2.0/token");
  // Past the token's life on the double's clock only: the provider still
  // holds it as valid, sends it, gets 401 with the challenge, and fetches
  // another one for the challenge's resource.
  double_->advance_clock(4000);
  const int refused = double_->count("/keys/challenged/", 401);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(double_->count("/keys/challenged/", 401), refused + 1);
  EXPECT_EQ(double_->count("/" + std::string(KeyVaultDouble::kTenant) + "/oauth2/v2.0/token"), tokens + 1);
}

TEST_F(AzureKvVaultTest, ADisabledKeyIsRefusedAndFailsTheProbe) {
  double_->create_key("disabled", "RSA");
  auto p = make("disabled");
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  double_->set_enabled("disabled", false);
  EXPECT_EQ(wrap(*p, context, share.view()).first.code(), Code::permission_denied);
  EXPECT_EQ(unwrap(*p, context, w).first.code(), Code::permission_denied);
  Error pe = probe(*p);
  EXPECT_EQ(pe.code(), Code::unavailable) << pe.message();
  double_->set_enabled("disabled", true);
  EXPECT_TRUE(probe(*p).ok());
}

TEST_F(AzureKvVaultTest, AMissingKeyFailsAtStartNamingIt) {
  auto p = runner.create(double_->entry("never-created"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("never-created"), std::string::npos) << p.error().message();
  EXPECT_NE(p.error().message().find("KeyNotFound"), std::string::npos) << p.error().message();
  EXPECT_EQ(p.error().code(), Code::failed_precondition);
}

TEST_F(AzureKvVaultTest, AVaultDownAtStartIsResolvedByTheFirstProbeThatReachesIt) {
  const std::string kid = double_->create_key("late", "RSA");
  double_->fail("/keys/late", 4, 503, 0);  // every attempt of the start-up GET
  auto made = runner.create(double_->entry("late"));
  ASSERT_TRUE(made.ok()) << made.error().message();
  Provider& p = **made;
  EXPECT_EQ(p.key_identity(), double_->url() + "/keys/late unresolved");
  const int before = double_->count("/keys/late");
  auto [e, w] = wrap(p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_EQ(double_->count("/keys/late"), before);  // nothing sent under no version
  ASSERT_TRUE(probe(p).ok());
  EXPECT_EQ(p.key_identity(), kid + " RSA-OAEP-256");
  auto [e2, w2] = wrap(p, context, share.view());
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_EQ(w2.key_version, kid);
}

TEST_F(AzureKvVaultTest, AChallengeForAnotherResourceGetsNoTokenForIt) {
  // Tokens from this suite's Entra (public cloud), the vault another cloud's.
  KeyVaultDouble gov({.flavour = "vault", .resource = "https://vault.usgovcloudapi.net",
                      .pki_from = double_->pki_dir()});
  ASSERT_TRUE(gov.running());
  gov.create_key("elsewhere", "RSA");
  const std::string token_path = "/" + std::string(KeyVaultDouble::kTenant) + "/oauth2/v2.0/token";
  const int tokens = double_->count(token_path);
  auto p = runner.create("vault_url: '" + gov.url() + "', key_name: elsewhere, scope: '" + double_->scope() +
                         "', ca_file: " + double_->ca_file() + ", auth: " + double_->auth_secret());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::permission_denied) << p.error().message();
  EXPECT_NE(p.error().message().find("usgovcloudapi"), std::string::npos) << p.error().message();
  EXPECT_EQ(double_->count(token_path), tokens + 1);  // ours only, none for the other resource
  EXPECT_EQ(gov.count("/keys/elsewhere", 401), 1);    // and it was not sent again
}

TEST_F(AzureKvVaultTest, ATokenForAnotherCloudIsRefusedAtStart) {
  double_->create_key("sovereign", "RSA");
  std::string entry = double_->entry("sovereign");
  entry.replace(entry.find("https://vault.azure.net/.default"), 32, "https://vault.usgovcloudapi.net/.default");
  auto p = runner.create(entry);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::permission_denied) << p.error().message();
  EXPECT_NE(p.error().message().find("AADSTS70011"), std::string::npos) << p.error().message();
}

TEST_F(AzureKvVaultTest, NoSecretTokenOrShareReachesTheLogsOrErrors) {
  double_->create_key("quiet", "RSA");
  log::set_level(log::Level::debug);
  ::testing::internal::CaptureStderr();
  std::string errors;
  {
    auto p = make("quiet");
    ASSERT_TRUE(p);
    auto [e, w] = wrap(*p, context, share.view());
    ASSERT_TRUE(e.ok()) << e.message();
    auto [e2, back] = unwrap(*p, context, w);
    ASSERT_TRUE(e2.ok()) << e2.message();
    double_->advance_clock(4000);  // a refused token, a challenge and a new token
    WrapResult bad = w;
    bad.wrapped[10] ^= 1;
    errors += unwrap(*p, context, bad).first.message();
    errors += unwrap(*p, envelope::share_context(kNonce, 2, 2), w).first.message();
  }
  const std::string logged = ::testing::internal::GetCapturedStderr() + errors;
  log::set_level(log::Level::info);
  const Bytes plain(share.view().begin(), share.view().end());
  for (const std::string& secret : {std::string(KeyVaultDouble::kSecret), hex_encode(plain),
                                    base64_encode(plain), std::string("Bearer ")}) {
    EXPECT_EQ(logged.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(logged.find("obtained an Entra access token"), std::string::npos);  // we did capture
}

/// Tests that hold the provider's clock still and move it themselves.
class AzureKvTimeTest : public AzureKvVaultTest {
 protected:
  AzureKvTimeTest() { time_ = std::make_unique<ManualTime>(); }
};

TEST_F(AzureKvTimeTest, TheTokenIsRefreshedBeforeItExpiresWithoutARefusal) {
  double_->create_key("refreshed", "RSA");
  auto p = make("refreshed");
  ASSERT_TRUE(p);
  ASSERT_TRUE(wrap(*p, context, share.view()).first.ok());  // its first token, at t0
  const std::string token_path = "/" + std::string(KeyVaultDouble::kTenant) + "/oauth2/v2.0/token";
  const int tokens = double_->count(token_path);
  // 3400 s into the token's hour: within the 300 s refresh margin.
  time_->advance(3400s);
  double_->advance_clock(3400);
  // The cached token, still good; the refresh it starts runs within this
  // call's deadline, so give it one that the clock moves below do not pass:
  // the double counts the token request before it answers, and the answer
  // may reach the provider only after them.
  ASSERT_TRUE(wrap(*p, context, share.view(), testkit::within(24h)).first.ok());
  ASSERT_TRUE(testkit::wait_until([&] { return double_->count(token_path) == tokens + 1; }));
  // t0 + 6650 s: past the first token's end (t0 + 3600 s), and 350 s before
  // the second one's, outside the margin: it is used, no 401 on the way.
  time_->advance(3250s);
  double_->advance_clock(3250);
  const int refused = double_->count("/keys/", 401);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(double_->count("/keys/", 401), refused);
  EXPECT_EQ(double_->count(token_path), tokens + 1);
}

TEST_F(AzureKvTimeTest, CancellationDuringARetryPauseCompletesOnceWithCancelled) {
  const std::string kid = double_->create_key("cancelled", "RSA");
  auto p = make("cancelled");
  ASSERT_TRUE(p);
  const std::string path = "/keys/cancelled/" + kid.substr(kid.rfind('/') + 1) + "/wrapkey";
  double_->fail(path, 1, 503, 5);  // the client waits 5 s of provider time, which never pass
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
  ASSERT_TRUE(testkit::wait_until([&] { return double_->count(path, 503) == 1; }));
  asio::post(strand, [&] { signal.emit(asio::cancellation_type::terminal); });
  EXPECT_EQ(done.get_future().get(), Code::cancelled);
  ASSERT_TRUE(testkit::wait_until([&] { return watch.expired(); }));  // the lease is let go
  EXPECT_EQ(double_->count(path, 200), 0);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(AzureKvTimeTest, TheDeadlineEndsACallThatWouldWaitPastIt) {
  const std::string kid = double_->create_key("deadline", "RSA");
  auto p = make("deadline");
  ASSERT_TRUE(p);
  const std::string path = "/keys/deadline/" + kid.substr(kid.rfind('/') + 1) + "/wrapkey";
  // A deadline already behind us: nothing is sent.
  auto [e, w] = wrap(*p, context, share.view(), testkit::within(-1s));
  EXPECT_EQ(e.code(), Code::deadline_exceeded) << e.message();
  EXPECT_EQ(double_->count(path), 0);
  // The call's whole budget covers the token too: with none cached and the
  // deadline gone, the wait for one ends at once as well.
  double_->advance_clock(4000);
  time_->advance(4000s);
  auto [e2, w2] = wrap(*p, context, share.view(), testkit::within(-1s));
  EXPECT_EQ(e2.code(), Code::deadline_exceeded) << e2.message();
}

/// Managed HSM: oct-HSM keys with AES key wrap and AES-GCM.
class AzureKvHsmTest : public AzureKvVaultTest {
 protected:
  static void SetUpTestSuite() { double_ = new KeyVaultDouble({.flavour = "managedhsm", .resource = "", .pki_from = ""}); }
};

TEST_F(AzureKvHsmTest, AnOctKeyWrapsWithA256KWByDefault) {
  const std::string kid = double_->create_key("kw", "oct-HSM", 256);
  auto p = make("kw");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), kid + " A256KW");
  EXPECT_FALSE(p->anyone_can_wrap());  // AES key wrap needs the HSM's secret key
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(double_->count("/keys/kw/" + kid.substr(kid.rfind('/') + 1) + "/wrapkey", 200), 1);
  auto [e2, back] = unwrap(*p, context, w);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
  EXPECT_NE(wrap(*p, context, share.view()).second.wrapped, w.wrapped);  // never repeats
  EXPECT_EQ(unwrap(*p, envelope::share_context(kNonce, 2, 2), w).first.code(), Code::integrity);
  WrapResult bad = w;
  bad.wrapped[8] ^= 1;  // inside the AES-KW blob: the HSM's integrity check fails
  EXPECT_EQ(unwrap(*p, context, bad).first.code(), Code::integrity);
  EXPECT_TRUE(probe(*p).ok());
}

TEST_F(AzureKvHsmTest, A256GCMBindsTheContextInTheHsmToo) {
  const std::string kid = double_->create_key("gcm", "oct-HSM", 256);
  auto p = make("gcm", "algorithm: A256GCM");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), kid + " A256GCM");
  EXPECT_FALSE(p->anyone_can_wrap());
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  const std::string version = kid.substr(kid.rfind('/') + 1);
  EXPECT_EQ(double_->count("/keys/gcm/" + version + "/encrypt", 200), 1);
  auto [e2, back] = unwrap(*p, context, w);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
  // Another context: the HSM's own AES-GCM refuses the aad before the local check runs.
  const int refused = double_->count("/keys/gcm/" + version + "/decrypt", 400);
  EXPECT_EQ(unwrap(*p, envelope::share_context(kNonce, 2, 2), w).first.code(), Code::integrity);
  EXPECT_EQ(double_->count("/keys/gcm/" + version + "/decrypt", 400), refused + 1);
  EXPECT_TRUE(probe(*p).ok());
}

TEST_F(AzureKvHsmTest, AnAlgorithmTheKeyTypeLacksFailsAtStart) {
  double_->create_key("oct-only", "oct-HSM", 256);
  auto p = runner.create(double_->entry("oct-only", "algorithm: RSA-OAEP-256"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::failed_precondition) << p.error().message();
  double_->create_key("rsa-hsm", "RSA-HSM", 2048);
  auto rsa = make("rsa-hsm");
  ASSERT_TRUE(rsa);
  EXPECT_NE(rsa->key_identity().find("RSA-OAEP-256"), std::string::npos);
  EXPECT_TRUE(wrap(*rsa, context, share.view()).first.ok());
}

/// Each Microsoft Entra flow obtains a token from the double's endpoints.
class AzureKvAuthTest : public AzureKvVaultTest {
 protected:
  std::string with_auth(const std::string& key, const std::string& auth) {
    std::string entry = double_->entry(key);
    const auto at = entry.find("auth: ");
    return entry.substr(0, at) + "auth: " + auth;
  }
  void round_trip(const std::string& key, const std::string& auth, const std::string& token_path) {
    double_->create_key(key, "RSA");
    const int before = double_->count(token_path, 200);
    auto p = runner.create(with_auth(key, auth));
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_GE(double_->count(token_path, 200), before + 1);
    auto [e, w] = wrap(**p, context, share.view());
    ASSERT_TRUE(e.ok()) << e.message();
    auto [e2, back] = unwrap(**p, context, w);
    ASSERT_TRUE(e2.ok()) << e2.message();
    EXPECT_TRUE(back.equals(share.view()));
  }
  std::string entra() const { return "/" + std::string(KeyVaultDouble::kTenant) + "/oauth2/v2.0/token"; }
};

TEST_F(AzureKvAuthTest, ClientSecret) { round_trip("by-secret", double_->auth_secret(), entra()); }

TEST_F(AzureKvAuthTest, ClientCertificateAssertion) {
  round_trip("by-certificate", double_->auth_certificate(), entra());
}

TEST_F(AzureKvAuthTest, WorkloadIdentityFederatedToken) {
  round_trip("by-workload", double_->auth_workload(), entra());
}

TEST_F(AzureKvAuthTest, ManagedIdentityThroughImds) {
  round_trip("by-imds", double_->auth_managed(), "/metadata/identity/oauth2/token");
}

TEST_F(AzureKvAuthTest, WorkloadIdentityTakesWhatTheWebhookInjects) {
  double_->create_key("by-webhook", "RSA");
  // As the AKS workload identity webhook sets them in the pod.
  ::setenv("AZURE_TENANT_ID", KeyVaultDouble::kTenant, 1);
  ::setenv("AZURE_CLIENT_ID", KeyVaultDouble::kClientId, 1);
  ::setenv("AZURE_FEDERATED_TOKEN_FILE", double_->federated_token_file().c_str(), 1);
  ::setenv("AZURE_AUTHORITY_HOST", (double_->url() + "/").c_str(), 1);
  auto p = runner.create(with_auth("by-webhook", "{method: workload_identity}"));
  for (const char* v : {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"}) {
    ::unsetenv(v);
  }
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_TRUE(wrap(**p, context, share.view()).first.ok());
  // Without them there is nothing to go on.
  auto none = runner.create(with_auth("by-webhook", "{method: workload_identity}"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Code::failed_precondition) << none.error().message();
}

TEST_F(AzureKvAuthTest, AWrongSecretIsRefusedWithEntrasCode) {
  double_->create_key("wrong-secret", "RSA");
  testkit::TempDir dir;
  testkit::write_file(dir.file("secret"), "not-the-secret");
  std::string auth = double_->auth_secret();
  auth.replace(auth.find(double_->secret_file()), double_->secret_file().size(), dir.file("secret"));
  auto p = runner.create(with_auth("wrong-secret", auth));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::permission_denied) << p.error().message();
  EXPECT_NE(p.error().message().find("AADSTS7000215"), std::string::npos) << p.error().message();
  EXPECT_EQ(p.error().message().find("not-the-secret"), std::string::npos);
}

TEST_F(AzureKvAuthTest, AnUnknownUserAssignedIdentityIsRefused) {
  double_->create_key("wrong-identity", "RSA");
  std::string auth = double_->auth_managed();
  auth.replace(auth.find(KeyVaultDouble::kManagedIdentity), 36, "00000000-0000-0000-0000-00000000dead");
  auto p = runner.create(with_auth("wrong-identity", auth));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::permission_denied) << p.error().message();
}

TEST_F(AzureKvAuthTest, TheFederatedTokenFileIsReadForEachExchange) {
  double_->create_key("reread", "RSA");
  testkit::TempDir dir;
  const std::string file = dir.file("token");
  {
    std::ifstream in(double_->federated_token_file());
    std::stringstream ss;
    ss << in.rdbuf();
    testkit::write_file(file, ss.str(), 0644);
  }
  std::string auth = double_->auth_workload();
  auth.replace(auth.find(double_->federated_token_file()), double_->federated_token_file().size(), file);
  auto p = runner.create(with_auth("reread", auth));
  ASSERT_TRUE(p.ok()) << p.error().message();
  // A rotated (here: broken) file is read at the next exchange: after the
  // token expires the provider asks Entra again and Entra refuses it.
  testkit::write_file(file, "not.a.jwt", 0644);
  double_->advance_clock(4000);
  EXPECT_EQ(wrap(**p, context, share.view()).first.code(), Code::permission_denied);
}

}  // namespace
}  // namespace trousseau::providers::azurekv
