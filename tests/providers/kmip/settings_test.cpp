// Validation of the kmip settings: field paths, no I/O.
#include <gtest/gtest.h>

#include <algorithm>

#include "providers/kmip/settings.hpp"
#include "providers/registry.hpp"
#include "support/provider_entry.hpp"
#include "support/settings_errors.hpp"

namespace trousseau::providers::kmip {
namespace {

const std::string kTls =
    "client_certificate_file: /etc/trousseau/kmip.pem, client_key_file: /etc/trousseau/kmip.key";

std::vector<std::string> errors_of(const std::string& settings) {
  return testkit::settings_errors("kmip", settings);
}

std::unique_ptr<Settings> parse(const std::string& settings) {
  ::trousseau::settings::Diagnostics diag;
  auto node = testkit::provider_entry("{" + settings + "}", diag);
  auto s = parse_settings(node);
  EXPECT_TRUE(diag.ok()) << (diag.errors().empty() ? "" : diag.errors()[0]);
  return s;
}

bool has(const std::vector<std::string>& errors, const std::string& needle) {
  return testkit::mentions(errors, needle);
}

std::string all(const std::vector<std::string>& e) {
  std::string out;
  for (const auto& s : e) out += s + "\n";
  return out;
}

TEST(KmipSettings, AcceptsAMinimalConfigurationWithItsDefaults) {
  auto s = parse("endpoint: kmip.example.com, key_uid: '42', " + kTls);
  EXPECT_EQ(s->host, "kmip.example.com");
  EXPECT_EQ(s->port, 5696);  // the port IANA assigned to KMIP
  EXPECT_EQ(s->mode, Mode::gcm);
  EXPECT_EQ(s->tag_length, 16u);
  EXPECT_EQ(s->protocol_versions, (std::vector<std::string>{"2.0", "1.4", "1.3", "1.2"}));
  EXPECT_TRUE(s->ca_file.empty());  // the system store
}

TEST(KmipSettings, ReadsHostPortAndBracketedIpv6) {
  EXPECT_EQ(parse("endpoint: 'kmip:15696', key_uid: a, " + kTls)->port, 15696);
  auto v6 = parse("endpoint: '[::1]:7000', key_uid: a, " + kTls);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  EXPECT_TRUE(has(errors_of("endpoint: 'kmip:99999', key_uid: a, " + kTls), "port"));
  EXPECT_TRUE(has(errors_of("endpoint: 'https://kmip/x', key_uid: a, " + kTls),
                  "not host:port"));
}

TEST(KmipSettings, RequiresExactlyOneOfKeyUidAndKeyName) {
  EXPECT_TRUE(has(errors_of("endpoint: k, " + kTls), "exactly one of key_uid and key_name"));
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, key_name: b, " + kTls),
                  "exactly one of key_uid and key_name"));
  EXPECT_TRUE(errors_of("endpoint: k, key_name: 'prod key', " + kTls).empty());
}

TEST(KmipSettings, RequiresAClientCertificateAndKeyAsAbsolutePaths) {
  auto e = errors_of("endpoint: k, key_uid: a");
  EXPECT_TRUE(has(e, "client_certificate_file")) << all(e);
  EXPECT_TRUE(has(e, "client_key_file")) << all(e);
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, client_certificate_file: c.pem, "
                            "client_key_file: /k"),
                  "absolute path"));
}

TEST(KmipSettings, RefusesAnIdentifierThatCouldNotBeAKeyVersion) {
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: 'a b', " + kTls), "key_uid"));
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, previous_key_uids: ['', x], " + kTls),
                  "previous_key_uids[0]"));
}

TEST(KmipSettings, ChecksModeTagLengthAndVersions) {
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, mode: ecb, " + kTls), "gcm, cbc"));
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, tag_length: 8, " + kTls),
                  "tag_length"));
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, mode: cbc, tag_length: 16, " + kTls),
                  "mode gcm only"));
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, protocol_versions: ['1.1'], " + kTls),
                  "not one of"));
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, mode: cbc, "
                            "protocol_versions: ['1.2', '1.2'], " + kTls),
                  "listed twice"));
  // GCM's additional data and tag arrived in KMIP 1.4.
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, protocol_versions: ['1.3', '1.2'], " +
                            kTls),
                  "gcm needs KMIP 1.4"));
  EXPECT_TRUE(errors_of("endpoint: k, key_uid: a, mode: cbc, protocol_versions: ['1.2'], " +
                        kTls)
                  .empty());
}

TEST(KmipSettings, RejectsUnknownKeys) {
  EXPECT_TRUE(has(errors_of("endpoint: k, key_uid: a, passwrd: x, " + kTls), "passwrd"));
}

}  // namespace
}  // namespace trousseau::providers::kmip
