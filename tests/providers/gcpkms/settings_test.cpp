// Parsing of the gcpkms entry: every problem reported with its path, no I/O.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gcpkms_test_paths.hpp"
#include "providers/gcpkms/settings.hpp"
#include "support/provider_entry.hpp"

namespace trousseau::providers::gcpkms {
namespace {

struct Parsed {
  std::unique_ptr<Settings> settings;
  std::vector<std::string> errors;
};

Parsed parse(const std::string& body) {
  settings::Diagnostics diag;
  auto node = testkit::provider_entry("{name: g, type: gcpkms, " + body + "}", diag);
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

const std::string kKey = "key_name: projects/p-1/locations/europe-west1/keyRings/r/cryptoKeys/k, ";
const std::string kMetadata = "auth: {method: metadata_server}";

TEST(GcpKmsSettings, TheDefaultsAreGooglesGlobalEndpointAndMetadataServer) {
  Parsed p = parse(kKey + kMetadata);
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  EXPECT_EQ(p.settings->key_name, "projects/p-1/locations/europe-west1/keyRings/r/cryptoKeys/k");
  EXPECT_EQ(p.settings->endpoint, "https://cloudkms.googleapis.com");
  EXPECT_EQ(p.settings->auth.method, AuthMethod::metadata_server);
  EXPECT_EQ(p.settings->auth.metadata_address, "http://169.254.169.254");
  EXPECT_TRUE(p.settings->previous_keys.empty());
}

TEST(GcpKmsSettings, KeyNamesMustBeCryptoKeyResourceNames) {
  for (const std::string good : {"projects/p/locations/global/keyRings/r/cryptoKeys/k",
                                 "projects/example.com:p/locations/us/keyRings/R_1/cryptoKeys/K-2"}) {
    EXPECT_TRUE(valid_crypto_key_name(good)) << good;
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "projects/p", "projects/p/locations/l/keyRings/r/cryptoKeys/",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        "projects/p/locations/l/keyRings/r/cryptokeys/k", "projects//locations/l/keyRings/r/cryptoKeys/k",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/", "projects/p/locations/l/keyRings/r.x/cryptoKeys/k",
        "/projects/p/locations/l/keyRings/r/cryptoKeys/k",
        "projects/p/locations/l/keyRings/r/cryptoKeys/" + std::string(64, 'k')}) {
    EXPECT_FALSE(valid_crypto_key_name(bad)) << bad;
  }
  EXPECT_TRUE(mentions(parse("key_name: projects/p/keys/k, " + kMetadata), "key_name"));
  EXPECT_TRUE(mentions(parse(kKey + "previous_keys: [projects/p], " + kMetadata), "previous_keys[0]"));
  EXPECT_TRUE(mentions(parse(kMetadata), "key_name"));
  const std::string longest = "key_name: projects/" + std::string(100, 'p') + "/locations/" + std::string(63, 'l') +
                              "/keyRings/" + std::string(63, 'r') + "/cryptoKeys/k, ";
  EXPECT_TRUE(mentions(parse(longest + kMetadata), "too long"));  // its versions would not fit an envelope
}

TEST(GcpKmsSettings, EndpointsAreHttpsOriginsForRegionsAndPrivateServiceConnect) {
  Parsed regional = parse(kKey + "endpoint: 'https://cloudkms.europe-west1.rep.googleapis.com/', " + kMetadata);
  ASSERT_TRUE(regional.errors.empty()) << regional.errors[0];
  EXPECT_EQ(regional.settings->endpoint, "https://cloudkms.europe-west1.rep.googleapis.com");
  EXPECT_TRUE(parse(kKey + "endpoint: 'https://cloudkms-trousseau.p.googleapis.com', " + kMetadata).errors.empty());
  EXPECT_TRUE(mentions(parse(kKey + "endpoint: 'http://cloudkms.googleapis.com', " + kMetadata), "https"));
  EXPECT_TRUE(mentions(parse(kKey + "endpoint: 'https://cloudkms.googleapis.com/v1', " + kMetadata), "path"));
  EXPECT_TRUE(mentions(parse(kKey + "ca_file: ca.pem, " + kMetadata), "absolute"));
}

TEST(GcpKmsSettings, EachAuthMethodTakesItsOwnKeysOnly) {
  Parsed sa = parse(kKey + "auth: {method: service_account_key, credentials_file: /k.json}");
  ASSERT_TRUE(sa.errors.empty()) << sa.errors[0];
  EXPECT_EQ(sa.settings->auth.method, AuthMethod::service_account_key);
  EXPECT_EQ(sa.settings->auth.credentials_file, "/k.json");
  Parsed wif = parse(kKey + "auth: {method: workload_identity_federation}");  // GOOGLE_APPLICATION_CREDENTIALS
  ASSERT_TRUE(wif.errors.empty()) << wif.errors[0];
  EXPECT_EQ(wif.settings->auth.method, AuthMethod::workload_identity_federation);
  EXPECT_TRUE(mentions(parse(kKey + "auth: {method: service_account_key, credentials_file: k.json}"), "absolute"));
  EXPECT_TRUE(mentions(parse(kKey + "auth: {method: metadata_server, credentials_file: /k.json}"), "credentials_file"));
  EXPECT_TRUE(mentions(parse(kKey + "auth: {method: service_account_key, metadata_address: 'http://169.254.169.254'}"),
                       "metadata_address"));
  EXPECT_TRUE(mentions(parse(kKey + "auth: {method: api_key}"), "method"));
  EXPECT_TRUE(mentions(parse(kKey + "auth: {method: metadata_server, colour: red}"), "colour"));
  EXPECT_TRUE(mentions(parse(kKey), "method"));  // auth is required
}

TEST(GcpKmsSettings, PlainHttpGoesToTheMetadataServerOnly) {
  for (const std::string ok : {"http://169.254.169.254", "http://metadata.google.internal", "http://127.0.0.1:8080",
                               "https://10.0.0.9"}) {
    Parsed p = parse(kKey + "auth: {method: metadata_server, metadata_address: '" + ok + "'}");
    EXPECT_TRUE(p.errors.empty()) << ok << ": " << p.errors[0];
  }
  EXPECT_TRUE(mentions(parse(kKey + "auth: {method: metadata_server, metadata_address: 'http://10.0.0.9'}"),
                       "169.254.169.254"));
}

TEST(GcpKmsSettings, TheExampleConfigurationParses) {
  std::ifstream in(GCPKMS_CONFIG_EXAMPLE);
  std::stringstream text;
  text << in.rdbuf();
  settings::Diagnostics diag;
  std::optional<settings::Node> root = settings::Node::parse_yaml(text.str(), diag);
  ASSERT_TRUE(root.has_value());
  int parsed = 0;
  for (settings::Node& entry : root->sequence("providers")) {
    (void)entry.string("name");
    if (entry.string("type") != "gcpkms") continue;
    (void)entry.duration("timeout", std::chrono::seconds(1), std::chrono::milliseconds(1), std::chrono::hours(1));
    auto s = parse_settings(entry);
    entry.reject_unknown_keys();
    ++parsed;
  }
  EXPECT_EQ(parsed, 1);
  EXPECT_TRUE(diag.ok()) << diag.errors()[0];
}

}  // namespace
}  // namespace trousseau::providers::gcpkms
