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
using testkit::test_envelope_with_versions;

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

// Every remote kind, each with a key it holds and one it keeps only to
// unwrap: what the audit can judge from the settings alone.
constexpr const char* kRemotePolicy = R"(
providers:
  - name: aws
    type: awskms
    key_id: arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-12ab-34cd-56ef-1234567890ab
    previous_key_ids: [arn:aws:kms:eu-west-1:111122223333:key/2222bbbb-12ab-34cd-56ef-1234567890ab]
    cluster_name: audit
  - name: vault
    type: vault
    address: https://vault.example:8200
    namespace: platform
    key: kek
    auth: {method: token, token_file: /nonexistent/token}
  - name: azure
    type: azurekv
    vault_url: https://trousseau.vault.azure.net
    key_name: kek
    previous_key_names: [old-kek]
    auth: {method: workload_identity}
  - name: gcp
    type: gcpkms
    key_name: projects/p/locations/l/keyRings/r/cryptoKeys/kek
    previous_keys: [projects/p/locations/l/keyRings/r/cryptoKeys/old]
    auth: {method: metadata_server}
  - name: kmip
    type: kmip
    endpoint: kmip.example:5696
    client_certificate_file: /nonexistent/client.pem
    client_key_file: /nonexistent/client.key
    key_uid: uid-current
    previous_key_uids: [uid-old]
  - name: hsm
    type: pkcs11
    module: /usr/lib/softhsm/libsofthsm2.so
    token_label: t
    pin_file: /nonexistent/pin
    key_id: "0a0b"
policy:
  threshold: 3
  slots:
    - providers: [aws]
    - providers: [vault]
    - providers: [azure]
    - providers: [gcp]
    - providers: [kmip]
    - providers: [hsm]
)";

const std::string kAwsKey = "arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-12ab-34cd-56ef-1234567890ab";
const std::string kAwsOld = "arn:aws:kms:eu-west-1:111122223333:key/2222bbbb-12ab-34cd-56ef-1234567890ab";
const std::string kKid = "https://trousseau.vault.azure.net/keys/";
const std::string kVersion32 = "/0123456789abcdef0123456789abcdef";
const std::string kGcp = "projects/p/locations/l/keyRings/r/cryptoKeys/";

/// Key versions each provider holds as the current key.
std::vector<std::vector<testkit::TestWrap>> current_wraps() {
  return {{{"aws", kAwsKey + "#material:abc123"}},
          {{"vault", "platform/transit/keys/kek@v3"}},
          {{"azure", kKid + "kek" + kVersion32}},
          {{"gcp", kGcp + "kek/cryptoKeyVersions/2"}},
          {{"kmip", "uid-current"}},
          {{"hsm", "pkcs11:serial-1:0a0b"}}};
}

class AuditKeyVersions : public ::testing::Test {
 protected:
  static config::Config remote_config() {
    config::Diagnostics diag;
    auto cfg = config::load_string(kRemotePolicy, diag);
    std::string errors;
    for (const std::string& e : diag.errors()) errors += e + "\n";
    EXPECT_TRUE(cfg) << errors;
    return cfg ? *cfg : config::Config{};
  }
  /// The current wraps, with slot `slot`'s key version replaced.
  AuditedValue audit_with(std::size_t slot, const std::string& key_version) const {
    auto wraps = current_wraps();
    wraps[slot][0].key_version = key_version;
    return policy_.audit("/registry/secrets/default/s",
                         as_bytes(stored_kms_v2("trousseau", test_envelope_with_versions(3, wraps))));
  }
  const AuditPolicy policy_{remote_config(), {"platform/transit/keys/kek@v1"}};
};

TEST_F(AuditKeyVersions, KeysEveryProviderHoldsMeetThePolicy) {
  const AuditedValue v = policy_.audit(
      "k", as_bytes(stored_kms_v2("trousseau", test_envelope_with_versions(3, current_wraps()))));
  EXPECT_TRUE(v.compliant()) << (v.findings.empty() ? "" : v.findings.front().message);
}

TEST_F(AuditKeyVersions, AKeyKeptOnlyToUnwrapIsRetired) {
  for (const auto& [slot, version] :
       {std::pair<std::size_t, std::string>{0, kAwsOld}, {0, kAwsOld + "#rotated:1700000000"},
        {2, kKid + "old-kek" + kVersion32}, {3, kGcp + "old/cryptoKeyVersions/7"},
        {4, "uid-old"}}) {
    const AuditedValue v = audit_with(slot, version);
    ASSERT_EQ(kinds(v), std::vector{FindingKind::key_version_retired}) << version;
    EXPECT_NE(v.findings[0].message.find("'" + version + "'"), std::string::npos);
    EXPECT_NE(v.findings[0].message.find("only to unwrap"), std::string::npos);
  }
}

TEST_F(AuditKeyVersions, AVersionRetiredInTheKmsIsNamedByTheOperator) {
  const AuditedValue v = audit_with(1, "platform/transit/keys/kek@v1");
  ASSERT_EQ(kinds(v), std::vector{FindingKind::key_version_retired});
  EXPECT_NE(v.findings[0].message.find("--retired-key-version"), std::string::npos);
  // Another version of the same key is still held.
  EXPECT_TRUE(audit_with(1, "platform/transit/keys/kek@v2").compliant());
}

TEST_F(AuditKeyVersions, AKeyTheSettingsNoLongerHoldIsNotConfigured) {
  // Each of these is refused by the provider's owns_key_version() at run time.
  for (const auto& [slot, version] : {
           std::pair<std::size_t, std::string>{0, "arn:aws:kms:eu-west-1:111122223333:key/"
                                                  "3333cccc-12ab-34cd-56ef-1234567890ab"},
           {0, "not an arn"},
           {1, "transit/keys/kek@v3"},           // no namespace
           {1, "platform/transit/keys/other@v3"},
           {1, "platform/transit/keys/kek@v03"},
           {2, kKid + "someone-elses" + kVersion32},
           {2, "https://evil.vault.azure.net/keys/kek" + kVersion32},
           {3, kGcp + "other/cryptoKeyVersions/1"},
           {3, kGcp + "kek"},                      // a key, not a version
           {4, "uid-other"},
           {5, "pkcs11:serial-1:0c0d"},
           {5, "sha256:abc"},
       }) {
    const AuditedValue v = audit_with(slot, version);
    ASSERT_EQ(kinds(v), std::vector{FindingKind::key_version_not_configured}) << version;
    EXPECT_NE(v.findings[0].message.find("Decrypt refuses that share"), std::string::npos);
  }
}

TEST_F(AuditKeyVersions, SharesUnderKeysNoLongerHeldDoNotCountTowardOpening) {
  auto wraps = current_wraps();
  wraps[0][0].key_version = "uid-stranger";
  wraps[1][0].key_version = "uid-stranger";
  wraps[2][0].key_version = "uid-stranger";
  wraps[3][0].key_version = "uid-stranger";
  const AuditedValue v = policy_.audit(
      "k", as_bytes(stored_kms_v2("trousseau", test_envelope_with_versions(3, wraps))));
  // kmip and hsm remain: two slots, and it needs three.
  EXPECT_EQ(kinds(v), (std::vector{FindingKind::key_version_not_configured,
                                   FindingKind::key_version_not_configured,
                                   FindingKind::key_version_not_configured,
                                   FindingKind::key_version_not_configured,
                                   FindingKind::unopenable}));
}

TEST_F(AuditKeyVersions, TheSummaryCountsValuesPerKeyVersion) {
  AuditSummary summary;
  for (int i = 0; i < 3; ++i) summary.add(audit_with(1, "platform/transit/keys/kek@v1"));
  summary.add(audit_with(1, "platform/transit/keys/kek@v3"));
  EXPECT_EQ(summary.key_versions().at("vault platform/transit/keys/kek@v1"), 3u);
  EXPECT_EQ(summary.key_versions().at("vault platform/transit/keys/kek@v3"), 1u);
  EXPECT_EQ(summary.key_versions().at("kmip uid-current"), 4u);
  EXPECT_EQ(summary.findings().at(FindingKind::key_version_retired), 3u);
}

}  // namespace
}  // namespace trousseau::cli
