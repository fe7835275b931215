// `trousseau audit` against a real etcd (Debian's etcd-server) with TLS and
// client certificates, holding values in kube-apiserver's storage formats,
// built from the upstream layouts (tests/support/stored_values.hpp): through
// the built binary for the report and the exit codes, and in process for
// the bounds of a 10,000-key scan.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <map>
#include <thread>

#include "cli/audit_policy.hpp"
#include "cli/audit_report.hpp"
#include "support/command.hpp"
#include "support/etcd_server.hpp"
#include "support/stored_values.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::cli {
namespace {

using testkit::EtcdServer;
using testkit::run_trousseau;
using testkit::stored_kms_v1;
using testkit::stored_kms_v2;
using testkit::test_envelope;
using namespace std::string_literals;

const std::string kSecrets = "/registry/secrets/default/";

class AuditCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    etcd_ = std::make_unique<EtcdServer>();
    testkit::write_file(etcd_->dir() + "/config.yaml", kAuditPolicy);
    const std::string good = test_envelope(2, {{"key-a"}, {"key-b"}, {"key-c"}});
    etcd_->put(kSecrets + "kms-v2-good", stored_kms_v2("trousseau", good));
    etcd_->put(kSecrets + "kms-v1-good", stored_kms_v1("trousseau", good));
    etcd_->put(kSecrets + "below-threshold",
               stored_kms_v2("trousseau", test_envelope(1, {{"key-a"}, {"key-b"}})));
    etcd_->put(kSecrets + "gone-provider",
               stored_kms_v2("trousseau", test_envelope(2, {{"key-a"}, {"key-b"}, {"key-old"}})));
    etcd_->put(kSecrets + "legacy",
               stored_kms_v1("trousseau", "vault:v1:c2VjcmV0LWNpcGhlcnRleHQ="));
    etcd_->put(kSecrets + "aescbc", testkit::stored_local("aescbc", "key1"));
    etcd_->put(kSecrets + "plaintext", testkit::stored_plaintext_secret());
    etcd_->put(kSecrets + "garbage", "k8s:enc:kms:v2:trousseau:\xff\xff\xff garbage");
    // Only compliant values under this prefix; and one resource outside secrets.
    etcd_->put("/registry/secrets/clean/one", stored_kms_v2("trousseau", good));
    etcd_->put("/registry/configmaps/default/settings", "k8s\0plain"s);
  }
  static void TearDownTestSuite() { etcd_.reset(); }
  void SetUp() override { ASSERT_TRUE(etcd_); }

  /// The command with a trusted client certificate against etcd; `set`
  /// replaces options (each may be given once), `extra` is appended.
  static std::vector<std::string> args(std::vector<std::string> extra = {},
                                       const std::map<std::string, std::string>& set = {}) {
    std::map<std::string, std::string> options = {{"--endpoints", etcd_->endpoint()},
                                                  {"--cacert", etcd_->ca()},
                                                  {"--cert", etcd_->client().cert},
                                                  {"--key", etcd_->client().key},
                                                  {"--config", etcd_->dir() + "/config.yaml"}};
    for (const auto& [k, v] : set) options[k] = v;
    std::vector<std::string> a = {"audit"};
    for (const auto& [k, v] : options) a.insert(a.end(), {k, v});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  static boost::json::object value_of(const boost::json::object& doc, const std::string& key) {
    for (const auto& v : doc.at("values").as_array()) {
      if (v.at("key").as_string() == key) return v.as_object();
    }
    ADD_FAILURE() << "no value for " << key;
    return {};
  }

  static std::vector<std::string> kinds_of(const boost::json::object& value) {
    std::vector<std::string> out;
    for (const auto& f : value.at("findings").as_array()) {
      out.emplace_back(f.at("kind").as_string());
    }
    return out;
  }

  static inline std::unique_ptr<EtcdServer> etcd_;
};

TEST_F(AuditCommand, TheTableShowsHowEachValueIsStoredAndExitsOneOnFindings) {
  const auto r = run_trousseau(args({"--prefix", kSecrets}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto line = [&](const std::string& status, const std::string& storage,
                        const std::string& key) {
    return r.out.find(status) != std::string::npos && r.out.find(storage) != std::string::npos &&
           r.out.find(kSecrets + key) != std::string::npos;
  };
  EXPECT_TRUE(line("ok", "kms v2 trousseau", "kms-v2-good")) << r.out;
  EXPECT_NE(r.out.find("format 1, 2 of 3: x1=key-a(sha256:key-a) x2=key-b(sha256:key-b) "
                       "x3=key-c(sha256:key-c)"),
            std::string::npos)
      << r.out;
  for (const char* f :
       {"below_threshold: threshold 1 is below the policy's 2",
        "provider_not_configured: provider 'key-old' is no longer configured",
        "legacy_format: written by the original Trousseau", "local_key: aescbc with key 'key1'",
        "plaintext: stored unencrypted (identity)",
        "unparsable: KMS v2 value: malformed EncryptedObject"}) {
    EXPECT_NE(r.out.find(f), std::string::npos) << f << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("summary   8 values at revision"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 meet the policy, 6 with findings"), std::string::npos) << r.out;
  // Another prefix's values are not read.
  EXPECT_EQ(r.out.find("/registry/secrets/clean/"), std::string::npos);
  EXPECT_EQ(r.out.find("configmaps"), std::string::npos);
}

TEST_F(AuditCommand, JsonNamesEveryFindingForTools) {
  const auto r = run_trousseau(args({"--prefix", kSecrets, "--output", "json"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc.at("values").as_array().size(), 8u);
  const auto good = value_of(doc, kSecrets + "kms-v2-good");
  EXPECT_TRUE(good.at("compliant").as_bool());
  EXPECT_EQ(good.at("storage").as_string(), "kms v2");
  EXPECT_EQ(good.at("name").as_string(), "trousseau");
  EXPECT_EQ(good.at("envelope").at("threshold").as_int64(), 2);
  EXPECT_EQ(good.at("envelope")
                .at("slots")
                .as_array()[1]
                .at("wraps")
                .as_array()[0]
                .at("provider")
                .as_string(),
            "key-b");
  EXPECT_EQ(value_of(doc, kSecrets + "kms-v1-good").at("storage").as_string(), "kms v1");
  EXPECT_EQ(kinds_of(value_of(doc, kSecrets + "below-threshold")),
            (std::vector<std::string>{"below_threshold", "earlier_policy"}));
  EXPECT_EQ(kinds_of(value_of(doc, kSecrets + "gone-provider")),
            std::vector<std::string>{"provider_not_configured"});
  EXPECT_EQ(kinds_of(value_of(doc, kSecrets + "legacy")),
            std::vector<std::string>{"legacy_format"});
  EXPECT_EQ(kinds_of(value_of(doc, kSecrets + "aescbc")), std::vector<std::string>{"local_key"});
  EXPECT_EQ(kinds_of(value_of(doc, kSecrets + "plaintext")), std::vector<std::string>{"plaintext"});
  EXPECT_EQ(kinds_of(value_of(doc, kSecrets + "garbage")), std::vector<std::string>{"unparsable"});
  const auto& summary = doc.at("summary").as_object();
  EXPECT_EQ(summary.at("values").as_int64(), 8);
  EXPECT_EQ(summary.at("compliant").as_int64(), 2);
  EXPECT_TRUE(summary.at("complete").as_bool());
  EXPECT_EQ(summary.at("findings").at("plaintext").as_int64(), 1);
  EXPECT_EQ(summary.at("storage").at("kms v2 trousseau").as_int64(), 4);
}

TEST_F(AuditCommand, OnlyFindingsListsTheFailingValuesAndStillCountsAll) {
  const auto r = run_trousseau(args({"--prefix", kSecrets, "--output", "json", "--only-findings"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc.at("values").as_array().size(), 6u);
  EXPECT_EQ(doc.at("summary").at("values").as_int64(), 8);
}

TEST_F(AuditCommand, ExitsZeroWhenEveryValueMeetsThePolicy) {
  const auto r = run_trousseau(args({"--prefix", "/registry/secrets/clean/"}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 values at revision"), std::string::npos) << r.out;
}

TEST_F(AuditCommand, AKeyVersionRetiredInTheKmsTurnsItsValuesIntoFindings) {
  // key-c's shares are all under "sha256:key-c" (support/stored_values.hpp).
  const auto r = run_trousseau(args({"--prefix", "/registry/secrets/clean/", "--output", "json",
                                     "--retired-key-version", "sha256:key-c"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(kinds_of(value_of(doc, "/registry/secrets/clean/one")),
            std::vector<std::string>{"key_version_retired"});
  EXPECT_EQ(doc.at("summary").at("key_versions").at("key-c sha256:key-c").as_int64(), 1);
}

TEST_F(AuditCommand, AllResourcesReadsEveryResourceNotOnlySecrets) {
  const auto r = run_trousseau(args({"--all-resources", "--output", "json"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc.at("prefix").as_string(), "/registry/");
  EXPECT_EQ(kinds_of(value_of(doc, "/registry/configmaps/default/settings")),
            std::vector<std::string>{"plaintext"});
  EXPECT_EQ(doc.at("summary").at("values").as_int64(), 10);
}

TEST_F(AuditCommand, AClientCertificateEtcdDoesNotTrustCannotScan) {
  const std::string other = etcd_->dir() + "/intruder-ca";
  testkit::make_test_pki(other, {"DNS:localhost"});
  const auto intruder = testkit::make_test_client_cert(other, "intruder");
  const auto r = run_trousseau({"audit", "--endpoints", etcd_->endpoint(), "--cacert", etcd_->ca(),
                                "--cert", intruder.cert, "--key", intruder.key, "--config",
                                etcd_->dir() + "/config.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("trousseau audit: etcd " + etcd_->endpoint()), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find(kSecrets), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("INCOMPLETE"), std::string::npos) << r.out;
}

TEST_F(AuditCommand, NeverFallsBackToAnInsecureConnection) {
  const std::string port = etcd_->endpoint().substr(etcd_->endpoint().rfind(':') + 1);
  const auto r = run_trousseau(args({}, {{"--endpoints", "http://127.0.0.1:" + port}}));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("only https://host:port"), std::string::npos) << r.err;
  // Without a client certificate at all: the files are required.
  const auto no_cert = run_trousseau(args({}, {{"--cert", etcd_->dir() + "/missing.pem"}}));
  EXPECT_EQ(no_cert.exit_code, 2);
  EXPECT_NE(no_cert.err.find("--cert: "), std::string::npos) << no_cert.err;
  EXPECT_NE(no_cert.err.find("missing.pem"), std::string::npos) << no_cert.err;
}

TEST_F(AuditCommand, AnUnreachableEtcdOrABadConfigurationIsExitTwo) {
  const std::string dead = "https://127.0.0.1:" + std::to_string(testkit::free_loopback_port());
  auto r = run_trousseau(args({"--timeout", "2s"}, {{"--endpoints", dead}}));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("trousseau audit: etcd " + dead + ": UNAVAILABLE"), std::string::npos)
      << r.err;
  testkit::write_file(etcd_->dir() + "/bad.yaml", "policy: {threshold: 9}\n");
  r = run_trousseau(args({}, {{"--config", etcd_->dir() + "/bad.yaml"}}));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("bad.yaml: "), std::string::npos) << r.err;
}

/// 10,000 keys through the scanner and the report, in process: the pages
/// have the size asked for, and what is kept per value is nothing (the
/// summary holds counters only).
TEST(AuditScan, TenThousandKeysArePagedAndKeepOnlyCounters) {
  EtcdServer etcd;
  const std::string good =
      stored_kms_v2("trousseau", test_envelope(2, {{"key-a"}, {"key-b"}, {"key-c"}}));
  const std::string bad = testkit::stored_plaintext_secret();
  constexpr int kKeys = 10000;
  constexpr int kWriters = 8;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kKeys; i += kWriters) {
        char key[64];
        std::snprintf(key, sizeof key, "/registry/secrets/ns/s%05d", i);
        etcd.put(key, i % 100 == 0 ? bad : good);
      }
    });
  }
  for (auto& t : writers) t.join();

  config::Diagnostics diag;
  const auto cfg = config::load_string(kAuditPolicy, diag);
  ASSERT_TRUE(cfg);
  const AuditPolicy policy(*cfg);
  AuditSummary summary;
  auto client = etcd.client_with_certificate({.page_size = 500});
  ASSERT_TRUE(client);
  std::string previous;
  bool ordered = true;
  auto stats = client->scan("/registry/secrets/", [&](std::string_view key, ByteView value) {
    ordered = ordered && previous < key;
    previous = key;
    summary.add(policy.audit(key, value));
  });
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_TRUE(ordered);
  EXPECT_EQ(stats->keys, static_cast<std::uint64_t>(kKeys));
  EXPECT_EQ(stats->largest_page, 500u);
  EXPECT_EQ(stats->pages, 20u);
  EXPECT_EQ(summary.values(), static_cast<std::uint64_t>(kKeys));
  EXPECT_EQ(summary.compliant(), static_cast<std::uint64_t>(kKeys - kKeys / 100));
  EXPECT_EQ(summary.storage().size(), 2u);  // "identity", "kms v2 trousseau"
  EXPECT_EQ(summary.findings().at(FindingKind::plaintext), static_cast<std::uint64_t>(kKeys / 100));
}

}  // namespace
}  // namespace trousseau::cli
