// What `trousseau audit` says about each value kube-apiserver stored in
// etcd, judged against the policy in force, and how it prints it. No KMS,
// no key, nothing decrypted: only what the stored bytes claim (the same
// reading as `trousseau inspect`, cli/inspection.hpp).
//
// A value meets the policy when it is a Trousseau envelope, in a KMS v1 or
// v2 frame kube-apiserver would read back, that
//  1. has at least the policy's threshold;
//  2. is admitted by the current policy (quorum/policy_check.hpp), not only
//     by one of `policy.previous`;
//  3. names only providers that are configured and in a slot of the
//     current policy;
//  4. names, for each provider, a key its settings still hold and have not
//     retired: not one kept only to unwrap (previous_key_ids and the like,
//     providers/registry.hpp KeyStanding), nor one the operator names
//     retired in the KMS (`--retired-key-version`);
//  5. has at least its threshold of slots that name a configured provider
//     of an accepted policy under a key it still holds, so that Decrypt can
//     open it.
// Everything else is a finding: plaintext (identity), a key from the
// EncryptionConfiguration (aescbc, aesgcm, secretbox), another KMS plugin's
// ciphertext, the original Trousseau's formats, and whatever does not parse.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "config/config.hpp"
#include "envelope/legacy.hpp"
#include "etcd/kv_client.hpp"
#include "kms/stored_value.hpp"

namespace trousseau::cli {

enum class FindingKind {
  plaintext,                ///< identity: stored unencrypted
  local_key,                ///< aescbc, aesgcm, secretbox: one key in a file
  unknown_transformer,      ///< k8s:enc: and something apiserver does not write
  unparsable,               ///< a KMS frame that does not read
  apiserver_refuses,        ///< kube-apiserver would refuse it on read
  not_trousseau,            ///< a KMS value whose DEK is not our envelope
  legacy_format,            ///< the original Trousseau's ciphertext
  below_threshold,          ///< fewer shares needed than the policy's k
  not_admitted,             ///< no accepted policy admits its slots
  earlier_policy,           ///< admitted only by policy.previous
  provider_not_configured,  ///< names a provider the configuration lacks
  provider_retired,         ///< names a provider in no slot of the policy
  key_version_retired,      ///< a key kept only to unwrap, or retired in the KMS
  key_version_not_configured,  ///< a key the provider's settings no longer hold
  unopenable,               ///< fewer slots with a usable provider than its threshold
};

/// "plaintext", "local_key", …: stable names for JSON and the summary.
std::string_view to_string(FindingKind kind);

struct Finding {
  FindingKind kind;
  std::string message;  ///< printable already
};

struct AuditedWrap {
  std::string provider;
  std::string key_version;
};

struct AuditedSlot {
  unsigned x = 0;
  std::vector<AuditedWrap> wraps;
};

struct AuditedEnvelope {
  unsigned threshold = 0;
  std::vector<AuditedSlot> slots;
};

struct AuditedValue {
  std::string key;  ///< printable
  kms::StorageClass storage;
  std::optional<AuditedEnvelope> envelope;
  std::optional<envelope::LegacyFormat> legacy;
  std::vector<std::string> legacy_origins;
  std::vector<Finding> findings;  ///< empty: meets the policy

  bool compliant() const { return findings.empty(); }
};

/// The policy in force, as the audit judges values by it.
class AuditPolicy {
 public:
  /// `retired_key_versions`: key versions the operator has retired, or is
  /// about to retire, in the KMS itself (a Vault key's versions below its
  /// min_decryption_version, a disabled Google or Azure key version), which
  /// no setting of the plugin shows.
  explicit AuditPolicy(const config::Config& config,
                       std::set<std::string, std::less<>> retired_key_versions = {});

  /// Classifies one stored value and lists what keeps it from meeting the
  /// policy. Pure: no I/O.
  AuditedValue audit(std::string_view key, ByteView value) const;

  /// "2 of 3 slots: [a], [b], [c d]".
  std::string describe() const;

 private:
  struct Configured {
    const providers::ProviderFactory* factory = nullptr;  ///< null: type not built in
    std::shared_ptr<const providers::ProviderSettings> settings;
  };
  providers::KeyStanding standing(const Configured& provider, std::string_view key_version) const;

  config::PolicyConfig policy_;
  std::map<std::string, Configured, std::less<>> configured_;
  std::set<std::string, std::less<>> retired_key_versions_;
  std::set<std::string, std::less<>> in_policy_;  ///< named by the current policy
  std::set<std::string, std::less<>> accepted_;   ///< … or by one of policy.previous
};

/// Counters only: its size does not grow with the number of values.
class AuditSummary {
 public:
  /// Storage labels kept apart ("kms v2 trousseau"); past this many, the
  /// rest are counted under "<storage> (other names)".
  static constexpr std::size_t kMaxLabels = 64;

  void add(const AuditedValue& value);

  std::uint64_t values() const { return values_; }
  std::uint64_t compliant() const { return compliant_; }
  const std::map<std::string, std::uint64_t>& storage() const { return storage_; }
  const std::map<FindingKind, std::uint64_t>& findings() const { return findings_; }
  /// Values per "<provider> <key version>" they hold a share under, past
  /// kMaxLabels counted under "(other key versions)": what an operator
  /// reads before retiring a version in the KMS.
  const std::map<std::string, std::uint64_t>& key_versions() const { return key_versions_; }

 private:
  std::uint64_t values_ = 0;
  std::uint64_t compliant_ = 0;
  std::map<std::string, std::uint64_t> storage_;
  std::map<FindingKind, std::uint64_t> findings_;
  std::map<std::string, std::uint64_t> key_versions_;
};

/// What the report's head says.
struct AuditScope {
  std::string endpoints;  ///< as given, comma-separated
  std::string prefix;
  std::string policy;  ///< AuditPolicy::describe()
};

/// Writes the report while the scan runs: one entry per value (or per
/// value with findings), then the summary. Holds nothing per value.
class AuditWriter {
 public:
  enum class Format { table, json };

  AuditWriter(std::ostream& out, Format format, bool only_findings);

  void begin(const AuditScope& scope);
  void value(const AuditedValue& value);
  /// `error` is why the scan stopped early; "" when it read everything.
  void end(const AuditSummary& summary, const etcd::ScanStats& stats, const std::string& error);

 private:
  std::ostream& out_;
  Format format_;
  bool only_findings_;
  bool first_ = true;
};

}  // namespace trousseau::cli
