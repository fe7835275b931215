// What `trousseau audit` concludes about one stored value, in process and
// without etcd: each storage format, and each way a Trousseau envelope can
// fall short of the policy in force. The values are built from the
// upstream layouts (tests/support/stored_values.hpp).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <sstream>

#include "cli/audit_policy.hpp"
#include "cli/audit_report.hpp"
#include "support/stored_values.hpp"

namespace trousseau::cli {
namespace {

using testkit::stored_kms_v1;
using testkit::stored_kms_v2;
using testkit::test_envelope;

config::Config policy_config() {
  config::Diagnostics diag;
  auto cfg = config::load_string(kAuditPolicy, diag);
  EXPECT_TRUE(cfg) << (diag.errors().empty() ? "" : diag.errors().front());
  return cfg ? *cfg : config::Config{};
}

std::vector<FindingKind> kinds(const AuditedValue& v) {
  std::vector<FindingKind> out;
  for (const Finding& f : v.findings) out.push_back(f.kind);
  return out;
}

class AuditReport : public ::testing::Test {
 protected:
  AuditedValue audit(const std::string& value) const {
    return policy_.audit("/registry/secrets/default/s", as_bytes(value));
  }
  const AuditPolicy policy_{policy_config()};
};

TEST_F(AuditReport, AnEnvelopeOfTheCurrentPolicyMeetsItInKmsV2AndV1) {
  const std::string env = test_envelope(2, {{"key-a"}, {"key-b"}, {"key-c"}});
  for (const std::string& value :
       {stored_kms_v2("trousseau", env), stored_kms_v1("trousseau", env)}) {
    const AuditedValue v = audit(value);
    EXPECT_TRUE(v.compliant()) << (v.findings.empty() ? "" : v.findings.front().message);
    ASSERT_TRUE(v.envelope);
    EXPECT_EQ(v.envelope->threshold, 2u);
    ASSERT_EQ(v.envelope->slots.size(), 3u);
    EXPECT_EQ(v.envelope->slots[2].wraps[0].provider, "key-c");
    EXPECT_EQ(v.envelope->slots[2].wraps[0].key_version, "sha256:key-c");
    EXPECT_EQ(v.storage.name, "trousseau");
  }
  EXPECT_EQ(audit(stored_kms_v2("trousseau", env)).storage.storage, kms::Storage::kms_v2);
  EXPECT_EQ(audit(stored_kms_v1("trousseau", env)).storage.storage, kms::Storage::kms_v1);
}

TEST_F(AuditReport, PlaintextIsFlagged) {
  const AuditedValue v = audit(testkit::stored_plaintext_secret());
  EXPECT_EQ(v.storage.storage, kms::Storage::identity);
  EXPECT_EQ(kinds(v), std::vector{FindingKind::plaintext});
  // JSON (CRDs) and anything else without k8s:enc: is stored as is too.
  EXPECT_EQ(audit("{\"kind\":\"Widget\"}").storage.storage, kms::Storage::identity);
}

TEST_F(AuditReport, AKeyFromTheEncryptionConfigurationIsNotThePolicy) {
  for (const auto& [transformer, storage] :
       {std::pair{"aescbc", kms::Storage::aescbc}, std::pair{"aesgcm", kms::Storage::aesgcm},
        std::pair{"secretbox", kms::Storage::secretbox}}) {
    const AuditedValue v = audit(testkit::stored_local(transformer, "key1"));
    EXPECT_EQ(v.storage.storage, storage) << transformer;
    EXPECT_EQ(v.storage.name, "key1");
    EXPECT_EQ(kinds(v), std::vector{FindingKind::local_key}) << transformer;
  }
  EXPECT_EQ(kinds(audit("k8s:enc:rot13:v9:k:xyz")), std::vector{FindingKind::unknown_transformer});
}

TEST_F(AuditReport, AnEnvelopeBelowTheThresholdIsFlaggedEvenWhenAnEarlierPolicyAdmitsIt) {
  const AuditedValue v =
      audit(stored_kms_v2("trousseau", test_envelope(1, {{"key-a"}, {"key-d"}})));
  EXPECT_EQ(kinds(v), (std::vector{FindingKind::below_threshold, FindingKind::earlier_policy,
                                   FindingKind::provider_retired}));
}

TEST_F(AuditReport, AProviderNoLongerConfiguredIsNamed) {
  const AuditedValue v =
      audit(stored_kms_v2("trousseau", test_envelope(2, {{"key-a"}, {"key-b"}, {"key-gone"}})));
  ASSERT_EQ(kinds(v), std::vector{FindingKind::provider_not_configured});
  EXPECT_NE(v.findings[0].message.find("'key-gone' is no longer configured"), std::string::npos);
}

TEST_F(AuditReport, AnEnvelopeTooFewConfiguredProvidersCanOpenIsUnopenable) {
  const AuditedValue v =
      audit(stored_kms_v2("trousseau", test_envelope(2, {{"key-a"}, {"gone-1"}, {"gone-2"}})));
  EXPECT_EQ(kinds(v), (std::vector{FindingKind::provider_not_configured,
                                   FindingKind::provider_not_configured, FindingKind::unopenable}));
}

TEST_F(AuditReport, SlotsNoAcceptedPolicyAdmitsAreFlagged) {
  // Each envelope slot mixes two slots of the policy that knows both names.
  const AuditedValue v =
      audit(stored_kms_v2("trousseau", test_envelope(2, {{"key-a", "key-d"}, {"key-b", "key-c"}})));
  EXPECT_EQ(kinds(v), (std::vector{FindingKind::not_admitted, FindingKind::provider_retired}));
}

TEST_F(AuditReport, TheOriginalTrousseausFormatsAreLegacy) {
  const AuditedValue v = audit(stored_kms_v1("trousseau", "vault:v3:c2VjcmV0LWNpcGhlcnRleHQ="));
  EXPECT_EQ(kinds(v), std::vector{FindingKind::legacy_format});
  ASSERT_TRUE(v.legacy);
  EXPECT_EQ(v.legacy_origins, std::vector<std::string>{"vault"});
}

TEST_F(AuditReport, WhatDoesNotParseIsFlaggedAndNamed) {
  const AuditedValue garbage = audit("k8s:enc:kms:v2:trousseau:\xff\xff\xff");
  EXPECT_EQ(kinds(garbage), std::vector{FindingKind::unparsable});
  EXPECT_NE(garbage.findings[0].message.find("malformed EncryptedObject"), std::string::npos);
  EXPECT_EQ(kinds(audit(stored_kms_v2("other-kms", "opaque-ciphertext-of-another-plugin"))),
            std::vector{FindingKind::not_trousseau});
  // kube-apiserver would refuse an empty keyID on read.
  const std::string env = test_envelope(2, {{"key-a"}, {"key-b"}, {"key-c"}});
  EXPECT_EQ(kinds(audit(stored_kms_v2("trousseau", env, ""))),
            std::vector{FindingKind::apiserver_refuses});
}

TEST_F(AuditReport, TheSummaryKeepsCountersNotValues) {
  AuditSummary summary;
  const std::string env = test_envelope(2, {{"key-a"}, {"key-b"}, {"key-c"}});
  for (int i = 0; i < 1000; ++i) summary.add(audit(stored_kms_v2("trousseau", env)));
  for (std::size_t i = 0; i < 2 * AuditSummary::kMaxLabels; ++i) {
    summary.add(audit(stored_kms_v2("kms-" + std::to_string(i), env)));
  }
  summary.add(audit(testkit::stored_plaintext_secret()));
  EXPECT_EQ(summary.values(), 1000 + 2 * AuditSummary::kMaxLabels + 1);
  EXPECT_EQ(summary.compliant(), 1000 + 2 * AuditSummary::kMaxLabels);
  EXPECT_EQ(summary.storage().at("kms v2 trousseau"), 1000u);
  EXPECT_LE(summary.storage().size(), AuditSummary::kMaxLabels + 2);
  EXPECT_EQ(summary.findings().at(FindingKind::plaintext), 1u);
}

TEST_F(AuditReport, JsonIsOneDocumentEvenWhenTheScanStops) {
  std::ostringstream out;
  AuditWriter writer(out, AuditWriter::Format::json, false);
  writer.begin({"https://127.0.0.1:2379", "/registry/secrets/", policy_.describe()});
  AuditSummary summary;
  const AuditedValue v = audit("k8s:enc:kms:v2:\x1b[31mred:xx");
  summary.add(v);
  writer.value(v);
  writer.end(summary, {}, "etcd https://127.0.0.1:2379: UNAVAILABLE: gone");
  const auto doc = boost::json::parse(out.str()).as_object();
  EXPECT_EQ(doc.at("values").as_array().size(), 1u);
  EXPECT_FALSE(doc.at("summary").at("complete").as_bool());
  EXPECT_EQ(doc.at("policy").as_string(), "2 of 3 slots: [key-a], [key-b], [key-c]");
  // Bytes from etcd never reach the terminal raw.
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace trousseau::cli
