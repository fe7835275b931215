// The token's life under a manual clock: renewed at 2/3 of its TTL, and
// when it dies, calls fail with the reason (logged once) until the token
// file changes. Both clocks move only when the test moves them: ours
// (ManualTime) and the double's (sys/double/clock).
#include <gtest/gtest.h>

#include "provider_fixture.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::vault {
namespace {

using namespace std::chrono_literals;

class VaultLifecycleTest : public VaultFixture {
 protected:
  void SetUp() override {
    manual_time.emplace();
    ASSERT_TRUE(start_double().running());
    vault().create_key("k");
  }

  /// Moves both clocks.
  void advance(std::chrono::seconds by) {
    vault().advance(by);
    manual_time->advance(by);
  }

  static std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  Bytes context = Bytes{'c'};
  SecretBytes share = SecretBytes::random(32);
};

TEST_F(VaultLifecycleTest, RenewsTheTokenAtTwoThirdsOfItsTtl) {
  const std::string token = vault().create_token(300, true);
  auto p = create("key: k, auth: {method: token, token_file: " + token_file(token) + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  VaultProvider& v = as_vault(**p);
  EXPECT_EQ(v.session_stats().logins, 1u);  // lookup-self told it the TTL

  advance(201s);  // past 2/3 of 300 s
  ASSERT_TRUE(testkit::wait_until([&] { return v.session_stats().renewals == 1; }));
  EXPECT_EQ(vault().ttl_of(token), 300);  // renewed at the double's t=201

  advance(250s);  // past the first TTL, and past the next renewal (t=401)
  ASSERT_TRUE(testkit::wait_until([&] { return v.session_stats().renewals == 2; }));
  auto [e, w] = wrap(**p, context, share.view());
  EXPECT_TRUE(e.ok()) << e.message();
  EXPECT_FALSE(v.session_stats().failed);
}

TEST_F(VaultLifecycleTest, AnExpiredTokenFailsEveryCallLogsOnceAndRecoversWithANewFile) {
  const std::string token = vault().create_token(60, false);
  const std::string file = token_file(token);
  auto p = create("key: k, auth: {method: token, token_file: " + file + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  VaultProvider& v = as_vault(**p);
  auto [e0, w] = wrap(**p, context, share.view());
  ASSERT_TRUE(e0.ok()) << e0.message();

  ::testing::internal::CaptureStderr();
  advance(61s);
  ASSERT_TRUE(testkit::wait_until([&] { return v.session_stats().failed; }));
  auto [e1, none] = wrap(**p, context, share.view());
  auto [e2, none2] = unwrap(**p, context, w.key_version, w.wrapped);
  Error e3 = probe(**p);
  const std::string logged = ::testing::internal::GetCapturedStderr();
  for (const Error* e : {&e1, &e2, &e3}) {
    EXPECT_EQ(e->code(), Code::permission_denied) << e->message();
    EXPECT_NE(e->message().find("expired"), std::string::npos) << e->message();
  }
  EXPECT_EQ(count(logged, "Vault token unusable"), 1u) << logged;
  EXPECT_EQ(logged.find(token), std::string::npos) << "the token was logged";

  token_file(vault().create_token(0));
  ASSERT_TRUE(testkit::wait_until([&] { return probe(**p).ok(); }));
  EXPECT_FALSE(v.session_stats().failed);
  auto [e4, out] = unwrap(**p, context, w.key_version, w.wrapped);
  EXPECT_TRUE(e4.ok()) << e4.message();
}

TEST_F(VaultLifecycleTest, ARevokedTokenFailsEveryCallLogsOnceAndRecoversWithANewFile) {
  const std::string token = vault().create_token(0);
  auto p = create("key: k, auth: {method: token, token_file: " + token_file(token) + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  VaultProvider& v = as_vault(**p);
  auto [e0, w] = wrap(**p, context, share.view());
  ASSERT_TRUE(e0.ok()) << e0.message();

  ::testing::internal::CaptureStderr();
  vault().call("POST", "auth/token/revoke-self", "", token);
  auto [e1, none] = wrap(**p, context, share.view());
  EXPECT_EQ(e1.code(), Code::permission_denied) << e1.message();
  // The 403 made the session ask lookup-self whether the token is dead.
  ASSERT_TRUE(testkit::wait_until([&] { return v.session_stats().failed; }));
  auto [e2, none2] = unwrap(**p, context, w.key_version, w.wrapped);
  Error e3 = probe(**p);
  const std::string logged = ::testing::internal::GetCapturedStderr();
  for (const Error* e : {&e2, &e3}) {
    EXPECT_EQ(e->code(), Code::permission_denied) << e->message();
    EXPECT_NE(e->message().find("revoked"), std::string::npos) << e->message();
  }
  EXPECT_EQ(count(logged, "Vault token unusable"), 1u) << logged;
  EXPECT_EQ(logged.find(token), std::string::npos) << "the token was logged";

  token_file(vault().create_token(0));
  ASSERT_TRUE(testkit::wait_until([&] { return probe(**p).ok(); }));
  EXPECT_FALSE(v.session_stats().failed);
}

TEST_F(VaultLifecycleTest, ALoginMethodLogsInAgainWhenItsTokenReachesItsMaxTtl) {
  vault().ok("POST", "sys/auth/approle", R"({"type":"approle"})");
  vault().ok("POST", "auth/approle/role/kms", R"({"token_ttl":"90s","token_max_ttl":"90s"})");
  const std::string role_id(vault().ok("GET", "auth/approle/role/kms/role-id").json.at("data").at("role_id").as_string());
  const std::string secret_id(vault().ok("POST", "auth/approle/role/kms/secret-id").json.at("data").at("secret_id").as_string());
  testkit::write_file(dir.file("secret-id"), secret_id);
  auto p = create("key: k, auth: {method: approle, role_id: " + role_id + ", secret_id_file: " +
                  dir.file("secret-id") + "}");
  ASSERT_TRUE(p.ok()) << p.error().message();
  VaultProvider& v = as_vault(**p);
  // t=61: renewed, but only up to its max TTL (29 s left, Vault warns).
  advance(61s);
  ASSERT_TRUE(testkit::wait_until([&] { return v.session_stats().renewals == 1; }));
  EXPECT_EQ(v.session_stats().logins, 1u);
  // t=122: past that max TTL; the token is gone and AppRole logs in again.
  advance(61s);
  ASSERT_TRUE(testkit::wait_until([&] { return v.session_stats().logins == 2; }));
  EXPECT_FALSE(v.session_stats().failed);
  auto [e, w] = wrap(**p, context, share.view());
  EXPECT_TRUE(e.ok()) << e.message();
}

}  // namespace
}  // namespace trousseau::providers::vault
