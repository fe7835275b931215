// Validation of the vault settings: field paths, no I/O.
#include <gtest/gtest.h>

#include <algorithm>

#include "providers/registry.hpp"
#include "providers/vault/settings.hpp"
#include "support/provider_entry.hpp"
#include "support/settings_errors.hpp"

namespace trousseau::providers::vault {
namespace {

std::vector<std::string> errors_of(const std::string& settings) {
  return testkit::settings_errors("vault", settings);
}

bool has(const std::vector<std::string>& errors, const std::string& needle) {
  return testkit::mentions(errors, needle);
}

std::string first(const std::vector<std::string>& e) { return e.empty() ? "" : e[0]; }

const std::string kToken = "auth: {method: token, token_file: /run/vault/token}";

TEST(VaultSettings, AcceptsAMinimalTokenConfiguration) {
  auto e = errors_of("address: 'https://vault.example:8200', key: k, " + kToken);
  EXPECT_TRUE(e.empty()) << first(e);
}

TEST(VaultSettings, DefaultsTheMountToTransit) {
  ::trousseau::settings::Diagnostics diag;
  auto node = testkit::provider_entry("{address: 'https://v:8200', key: k, " + kToken + "}", diag);
  auto s = parse_settings(node);
  EXPECT_EQ(s->mount, "transit");
  EXPECT_EQ(s->auth.method, "token");
  EXPECT_TRUE(s->vault_namespace.empty());
}

TEST(VaultSettings, RequiresAddressKeyAndAuth) {
  auto e = errors_of("mount: transit");
  EXPECT_TRUE(has(e, "providers[0].address")) << first(e);
  EXPECT_TRUE(has(e, "providers[0].key"));
  EXPECT_TRUE(has(e, "providers[0].auth"));
}

TEST(VaultSettings, AllowsPlainHttpToLoopbackOnly) {
  EXPECT_TRUE(errors_of("address: 'http://127.0.0.1:8200', key: k, " + kToken).empty());
  EXPECT_TRUE(has(errors_of("address: 'http://vault.example:8200', key: k, " + kToken),
                  "providers[0].address"));
}

TEST(VaultSettings, RefusesAnAddressWithAPath) {
  EXPECT_TRUE(has(errors_of("address: 'https://v:8200/v1/transit', key: k, " + kToken),
                  "without a path"));
}

TEST(VaultSettings, RefusesPathsThatWouldEscapeTheirSegment) {
  const std::string base = "address: 'https://v:8200', " + kToken + ", ";
  EXPECT_TRUE(has(errors_of(base + "key: 'a/b'"), "providers[0].key"));
  EXPECT_TRUE(has(errors_of(base + "key: '..'"), "providers[0].key"));
  EXPECT_TRUE(has(errors_of(base + "key: k, mount: 'a/../b'"), "providers[0].mount"));
  EXPECT_TRUE(has(errors_of(base + "key: k, mount: 'a?b'"), "providers[0].mount"));
  EXPECT_TRUE(has(errors_of(base + "key: k, namespace: 'team a'"), "providers[0].namespace"));
  EXPECT_TRUE(errors_of(base + "key: k, mount: 'kms/transit', namespace: 'team-a/prod/'").empty());
}

TEST(VaultSettings, EachAuthMethodNeedsItsOwnKeys) {
  const std::string base = "address: 'https://v:8200', key: k, ";
  EXPECT_TRUE(has(errors_of(base + "auth: {method: token}"), "providers[0].auth.token_file"));
  EXPECT_TRUE(has(errors_of(base + "auth: {method: approle, role_id: r}"),
                  "providers[0].auth.secret_id_file"));
  EXPECT_TRUE(has(errors_of(base + "auth: {method: jwt, jwt_file: /t}"), "providers[0].auth.role"));
  EXPECT_TRUE(has(errors_of(base + "auth: {method: jwt, role: r}"), "providers[0].auth.jwt_file"));
  EXPECT_TRUE(errors_of(base + "auth: {method: kubernetes, role: r}").empty());
  EXPECT_TRUE(has(errors_of(base + "auth: {method: cert}"), "client_cert"));
  EXPECT_TRUE(errors_of(base + "client_cert: /c.pem, client_key: /c.key, auth: {method: cert}").empty());
  EXPECT_TRUE(has(errors_of(base + "auth: {method: ldap}"), "providers[0].auth.method"));
}

TEST(VaultSettings, AKubernetesLoginReadsTheServiceAccountTokenByDefault) {
  ::trousseau::settings::Diagnostics diag;
  auto node = testkit::provider_entry(
      "{address: 'https://v:8200', key: k, auth: {method: kubernetes, role: kms, mount: k8s/prod}}",
      diag);
  auto s = parse_settings(node);
  EXPECT_EQ(s->auth.jwt_file, kServiceAccountTokenFile);
  EXPECT_EQ(s->auth.mount, "k8s/prod");
  EXPECT_TRUE(diag.ok()) << first(diag.errors());
}

TEST(VaultSettings, UnknownAuthKeysAreRefused) {
  EXPECT_TRUE(has(errors_of("address: 'https://v:8200', key: k, auth: {method: token, "
                            "token_file: /t, token: hvs.secret}"),
                  "providers[0].auth.token"));
}

TEST(VaultSettings, ClientCertificateAndKeyGoTogether) {
  EXPECT_TRUE(has(errors_of("address: 'https://v:8200', key: k, client_cert: /c.pem, " + kToken),
                  "providers[0].client_key"));
  EXPECT_TRUE(has(errors_of("address: 'https://v:8200', key: k, ca_file: relative.pem, " + kToken),
                  "providers[0].ca_file"));
}

}  // namespace
}  // namespace trousseau::providers::vault
