// Parsing of the azurekv entry: every problem reported with its path, no I/O.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "azurekv_test_paths.hpp"

#include "providers/azurekv/settings.hpp"
#include "support/provider_entry.hpp"

namespace trousseau::providers::azurekv {
namespace {

struct Parsed {
  std::unique_ptr<Settings> settings;
  std::vector<std::string> errors;
};

Parsed parse(const std::string& body) {
  settings::Diagnostics diag;
  auto node = testkit::provider_entry("{name: az, type: azurekv, " + body + "}", diag);
  (void)node.string("name");
  (void)node.string("type");
  Parsed p;
  p.settings = parse_settings(node);
  node.reject_unknown_keys();
  p.errors = diag.errors();
  return p;
}

bool mentions(const Parsed& p, const std::string& text) {
  for (const auto& e : p.errors) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

const std::string kSecretAuth =
    "auth: {method: client_secret, tenant_id: t, client_id: c, client_secret_file: /s}";

TEST(AzureKvSettings, APublicCloudVaultNeedsNoScope) {
  Parsed p = parse("vault_url: 'https://kv1.vault.azure.net/', key_name: kek, " + kSecretAuth);
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  EXPECT_EQ(p.settings->vault_url, "https://kv1.vault.azure.net");
  EXPECT_EQ(p.settings->scope, "https://vault.azure.net/.default");
  EXPECT_TRUE(p.settings->algorithm.empty());  // auto: from the key type
  EXPECT_EQ(p.settings->auth.method, AuthMethod::client_secret);
}

TEST(AzureKvSettings, SovereignCloudsAreKnownBySuffix) {
  EXPECT_EQ(cloud_of_host("a.vault.usgovcloudapi.net").scope, "https://vault.usgovcloudapi.net/.default");
  EXPECT_EQ(cloud_of_host("a.vault.usgovcloudapi.net").authority_host, "https://login.microsoftonline.us");
  EXPECT_EQ(cloud_of_host("a.vault.azure.cn").authority_host, "https://login.chinacloudapi.cn");
  EXPECT_EQ(cloud_of_host("h.managedhsm.azure.net").scope, "https://managedhsm.azure.net/.default");
  EXPECT_EQ(cloud_of_host("vault.azure.net.evil.example").scope, "");
  EXPECT_EQ(cloud_of_host("127.0.0.1").scope, "");
}

TEST(AzureKvSettings, AnUnknownHostNeedsAScope) {
  Parsed p = parse("vault_url: 'https://127.0.0.1:8443', key_name: kek, " + kSecretAuth);
  EXPECT_TRUE(mentions(p, "scope")) << (p.errors.empty() ? "" : p.errors[0]);
  Parsed ok = parse("vault_url: 'https://127.0.0.1:8443', key_name: kek, scope: 'https://vault.azure.net/.default', " + kSecretAuth);
  EXPECT_TRUE(ok.errors.empty()) << ok.errors[0];
}

TEST(AzureKvSettings, RefusesPlainHttpPathsAndBadNames) {
  EXPECT_TRUE(mentions(parse("vault_url: 'http://kv1.vault.azure.net', key_name: kek, " + kSecretAuth), "https"));
  EXPECT_TRUE(mentions(parse("vault_url: 'https://kv1.vault.azure.net/keys', key_name: kek, " + kSecretAuth), "no path"));
  EXPECT_TRUE(mentions(parse("vault_url: 'https://kv1.vault.azure.net', key_name: 'a/b', " + kSecretAuth), "key name"));
  EXPECT_TRUE(mentions(parse("vault_url: 'https://kv1.vault.azure.net', key_name: k, algorithm: RSA1_5, " + kSecretAuth), "algorithm"));
  EXPECT_TRUE(mentions(parse("vault_url: 'https://kv1.vault.azure.net', key_name: k, scope: 'https://vault.azure.net', " + kSecretAuth), "/.default"));
}

TEST(AzureKvSettings, EachAuthMethodNeedsItsOwnKeysOnly) {
  const std::string v = "vault_url: 'https://kv1.vault.azure.net', key_name: k, ";
  EXPECT_TRUE(mentions(parse(v + "auth: {method: client_secret, tenant_id: t, client_id: c}"), "client_secret_file"));
  EXPECT_TRUE(mentions(parse(v + "auth: {method: client_certificate, tenant_id: t, client_id: c}"), "client_certificate_file"));
  EXPECT_TRUE(mentions(parse(v + "auth: {method: client_secret, client_id: c, client_secret_file: /s}"), "tenant_id"));
  EXPECT_TRUE(mentions(parse(v + "auth: {method: client_secret, tenant_id: t, client_id: c, client_secret_file: s}"), "absolute"));
  EXPECT_TRUE(mentions(parse(v + "auth: {method: managed_identity, client_secret_file: /s}"), "client_secret_file"));
  EXPECT_TRUE(mentions(parse(v + "auth: {method: managed_identity, imds_endpoint: 'http://10.0.0.1'}"), "169.254.169.254"));
  EXPECT_TRUE(mentions(parse(v + "auth: {method: password}"), "method"));
  EXPECT_TRUE(mentions(parse(v + "auth: {method: managed_identity, color: red}"), "color"));
  Parsed wi = parse(v + "auth: {method: workload_identity}");  // AZURE_* at create time
  EXPECT_TRUE(wi.errors.empty()) << wi.errors[0];
  Parsed mi = parse(v + "auth: {method: managed_identity}");
  ASSERT_TRUE(mi.errors.empty()) << mi.errors[0];
  EXPECT_EQ(mi.settings->auth.imds_endpoint, "http://169.254.169.254");
}

TEST(AzureKvSettings, AuthIsRequired) {
  EXPECT_TRUE(mentions(parse("vault_url: 'https://kv1.vault.azure.net', key_name: k"), "method"));
}

TEST(AzureKvSettings, TheExampleConfigurationParses) {
  std::ifstream in(AZUREKV_CONFIG_EXAMPLE);
  std::stringstream text;
  text << in.rdbuf();
  settings::Diagnostics diag;
  std::optional<settings::Node> root = settings::Node::parse_yaml(text.str(), diag);
  ASSERT_TRUE(root.has_value());
  int parsed = 0;
  for (settings::Node& entry : root->sequence("providers")) {
    (void)entry.string("name");
    if (entry.string("type") != "azurekv") continue;
    (void)entry.duration("timeout", std::chrono::seconds(1), std::chrono::milliseconds(1), std::chrono::hours(1));
    auto s = parse_settings(entry);
    entry.reject_unknown_keys();
    ++parsed;
  }
  EXPECT_EQ(parsed, 2);
  EXPECT_TRUE(diag.ok()) << diag.errors()[0];
}

}  // namespace
}  // namespace trousseau::providers::azurekv
