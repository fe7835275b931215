#include "config/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace trousseau::config {
namespace {

constexpr const char* kValid = R"(
socket: /run/trousseau/kms.sock
policy:
  threshold: 2
  min_encrypt_slots: 2
  decrypt: all
  slots:
    - providers: [local-a]
    - providers: [local-b, local-c]
    - providers: [local-d]
providers:
  - {name: local-a, type: keyfile, path: /keys/a}
  - {name: local-b, type: keyfile, path: /keys/b, timeout: 250ms}
  - {name: local-c, type: keyfile, path: /keys/c}
  - {name: local-d, type: keyfile, path: /keys/d, max_inflight: 8}
request:
  default_deadline: 2s
)";

bool has_error(const Diagnostics& d, const std::string& needle) {
  return std::any_of(d.errors().begin(), d.errors().end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

TEST(Config, ParsesAValidPolicy) {
  Diagnostics d;
  auto cfg = load_string(kValid, d);
  ASSERT_TRUE(cfg.has_value()) << (d.errors().empty() ? "" : d.errors()[0]);
  EXPECT_EQ(cfg->policy.threshold, 2u);
  EXPECT_EQ(cfg->policy.min_encrypt_slots, 2u);
  EXPECT_EQ(cfg->policy.decrypt, DecryptStrategy::all);
  ASSERT_EQ(cfg->policy.slots.size(), 3u);
  EXPECT_EQ(cfg->policy.slots[1], (std::vector<std::string>{"local-b", "local-c"}));
  EXPECT_EQ(cfg->providers[1].timeout, Duration(250));
  EXPECT_EQ(cfg->providers[3].max_inflight, 8u);
  EXPECT_EQ(cfg->request.default_deadline, Duration(2000));
}

TEST(Config, MinEncryptSlotsDefaultsToSlotCount) {
  Diagnostics d;
  auto cfg = load_string(R"(
policy: {threshold: 1, slots: [{providers: [a]}, {providers: [b]}]}
providers: [{name: a, type: keyfile, path: /k/a}, {name: b, type: keyfile, path: /k/b}]
)", d);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->policy.min_encrypt_slots, 2u);
}

TEST(Config, ReportsEveryErrorWithItsPath) {
  Diagnostics d;
  auto cfg = load_string(R"(
socket: relative.sock
colour: blue
policy:
  threshold: 3
  min_encrypt_slots: 9
  decrypt: sometimes
  slots:
    - providers: [a]
    - providers: [a, ghost]
providers:
  - {name: a, type: keyfile, path: keys/a, timeout: soon}
  - {name: a, type: keyfile, path: /k/b}
  - {name: Bad_Name, type: nosuch}
  - {name: unused, type: keyfile, path: /k/u, colour: red}
)", d);
  EXPECT_FALSE(cfg.has_value());
  EXPECT_TRUE(has_error(d, "socket: must be an absolute path"));
  EXPECT_TRUE(has_error(d, "colour: unknown field"));
  EXPECT_TRUE(has_error(d, "policy.threshold: threshold 3 is larger than the 2 slots"));
  EXPECT_TRUE(has_error(d, "policy.min_encrypt_slots"));
  EXPECT_TRUE(has_error(d, "policy.decrypt"));
  EXPECT_TRUE(has_error(d, "policy.slots[1].providers: provider 'a' is already used in slot 0"));
  EXPECT_TRUE(has_error(d, "policy.slots[1].providers: provider 'ghost' is not defined"));
  EXPECT_TRUE(has_error(d, "providers[0].path: must be an absolute path"));
  EXPECT_TRUE(has_error(d, "providers[0].timeout"));
  EXPECT_TRUE(has_error(d, "providers[1].name: duplicate provider name 'a'"));
  EXPECT_TRUE(has_error(d, "providers[2].name"));
  EXPECT_TRUE(has_error(d, "providers[2].type: unknown provider type 'nosuch'"));
  EXPECT_TRUE(has_error(d, "providers[3].colour: unknown field"));
  EXPECT_TRUE(has_error(d, "providers[3]: provider 'unused' is not used"));
}

TEST(Config, RejectsMissingPolicyAndProviders) {
  Diagnostics d;
  EXPECT_FALSE(load_string("socket: /tmp/x.sock\n", d).has_value());
  EXPECT_TRUE(has_error(d, "policy"));
  EXPECT_TRUE(has_error(d, "providers: at least one provider is required"));
}

TEST(Config, RejectsYamlSyntaxErrors) {
  Diagnostics d;
  EXPECT_FALSE(load_string("policy: [unclosed\n", d).has_value());
  EXPECT_TRUE(has_error(d, "YAML syntax error"));
}

TEST(Config, ParsesDurations) {
  EXPECT_EQ(settings::parse_duration("250ms"), Duration(250));
  EXPECT_EQ(settings::parse_duration("3s"), Duration(3000));
  EXPECT_EQ(settings::parse_duration("2m"), Duration(120000));
  EXPECT_FALSE(settings::parse_duration("3").has_value());
  EXPECT_FALSE(settings::parse_duration("-1s").has_value());
  EXPECT_FALSE(settings::parse_duration("1.5s").has_value());
}

TEST(Config, EarlierPoliciesStayAcceptedAndMayNameRetiredProviders) {
  Diagnostics d;
  auto cfg = load_string(R"(
socket: /run/trousseau/kms.sock
policy:
  threshold: 2
  slots: [{providers: [a]}, {providers: [b]}, {providers: [c]}]
  previous:
    - threshold: 1
      slots: [{providers: [a]}, {providers: [old]}]
providers:
  - {name: a, type: keyfile, path: /keys/a}
  - {name: b, type: keyfile, path: /keys/b}
  - {name: c, type: keyfile, path: /keys/c}
  - {name: old, type: keyfile, path: /keys/old}
)", d);
  ASSERT_TRUE(cfg.has_value()) << (d.errors().empty() ? "" : d.errors()[0]);
  ASSERT_EQ(cfg->policy.previous.size(), 1u);
  EXPECT_EQ(cfg->policy.previous[0].threshold, 1u);
  EXPECT_EQ(cfg->policy.previous[0].slots,
            (std::vector<std::vector<std::string>>{{"a"}, {"old"}}));
}

TEST(Config, EarlierPoliciesAreCheckedLikeTheCurrentOne) {
  Diagnostics d;
  auto cfg = load_string(R"(
policy:
  threshold: 1
  slots: [{providers: [a]}]
  previous:
    - threshold: 3
      slots: [{providers: [a, ghost]}, {providers: [a]}]
providers:
  - {name: a, type: keyfile, path: /keys/a}
)", d);
  EXPECT_FALSE(cfg.has_value());
  EXPECT_TRUE(has_error(d, "policy.previous[0].threshold")) << d.errors()[0];
  EXPECT_TRUE(has_error(d, "provider 'ghost' is not defined"));
  EXPECT_TRUE(has_error(d, "provider 'a' is already used in slot 0"));
}

TEST(Config, LogLevelIsParsedIntoItsEnum) {
  for (const auto& [text, level] : std::vector<std::pair<std::string, log::Level>>{
           {"debug", log::Level::debug}, {"warn", log::Level::warn}, {"error", log::Level::error}}) {
    Diagnostics d;
    auto cfg = load_string(std::string(kValid) + "log_level: " + text + "\n", d);
    ASSERT_TRUE(cfg.has_value()) << text;
    EXPECT_EQ(cfg->log_level, level);
  }
  Diagnostics d;
  EXPECT_FALSE(load_string(std::string(kValid) + "log_level: loud\n", d).has_value());
  EXPECT_TRUE(has_error(d, "log_level: must be debug, info, warn or error"));
}

TEST(Config, TheSopsKeyServiceIsOffUnlessGivenAnAbsoluteSocketOfItsOwn) {
  Diagnostics d;
  auto cfg = load_string(kValid, d);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_FALSE(cfg->sops_keyservice.socket.has_value());
  cfg = load_string(std::string(kValid) + "sops_keyservice: {socket: /run/trousseau/sops.sock}\n", d);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->sops_keyservice.socket, "/run/trousseau/sops.sock");
  cfg = load_string(std::string(kValid) + "sops_keyservice: {socket: off}\n", d);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_FALSE(cfg->sops_keyservice.socket.has_value());
  for (const char* bad : {"{socket: sops.sock}", "{socket: /run/trousseau/kms.sock}", "{sockets: /a}"}) {
    Diagnostics e;
    EXPECT_FALSE(load_string(std::string(kValid) + "sops_keyservice: " + bad + "\n", e).has_value()) << bad;
    EXPECT_TRUE(has_error(e, "sops_keyservice")) << bad;
  }
}

TEST(Config, LegacyMapsTheOriginalsOriginsToProvidersOutsideThePolicy) {
  Diagnostics d;
  auto cfg = load_string(R"(
policy: {threshold: 1, slots: [{providers: [a]}]}
providers:
  - {name: a, type: keyfile, path: /k/a}
  - {name: old-aws, type: awskms, key_id: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
     cluster_name: c, legacy_encryption_context: {cluster: prod}}
legacy: {awskms: old-aws}
)", d);
  ASSERT_TRUE(cfg.has_value()) << (d.errors().empty() ? "" : d.errors()[0]);
  EXPECT_EQ(cfg->legacy, (LegacyConfig{{"awskms", "old-aws"}}));
}

TEST(Config, LegacyNamesADefinedProviderOfTheOriginsType) {
  Diagnostics d;
  auto cfg = load_string(R"(
policy: {threshold: 1, slots: [{providers: [a]}]}
providers: [{name: a, type: keyfile, path: /k/a}]
legacy: {awskms: a, vault: missing, azurekms: a}
)", d);
  EXPECT_FALSE(cfg.has_value());
  EXPECT_TRUE(has_error(d, "legacy.awskms: provider 'a' has type keyfile")) << d.errors()[0];
  EXPECT_TRUE(has_error(d, "legacy.vault: provider 'missing' is not defined"));
  EXPECT_TRUE(has_error(d, "legacy.azurekms"));  // the original's Azure ciphertexts are not read
}

TEST(Config, NoLegacyByDefault) {
  Diagnostics d;
  auto cfg = load_string(kValid, d);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_TRUE(cfg->legacy.empty());
}

}  // namespace
}  // namespace trousseau::config
