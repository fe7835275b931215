#include "cli/audit_report.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "cli/inspection.hpp"
#include "cli/io.hpp"
#include "quorum/policy_check.hpp"

namespace trousseau::cli {

namespace json = boost::json;

std::string_view to_string(FindingKind kind) {
  switch (kind) {
    case FindingKind::plaintext: return "plaintext";
    case FindingKind::local_key: return "local_key";
    case FindingKind::unknown_transformer: return "unknown_transformer";
    case FindingKind::unparsable: return "unparsable";
    case FindingKind::apiserver_refuses: return "apiserver_refuses";
    case FindingKind::not_trousseau: return "not_trousseau";
    case FindingKind::legacy_format: return "legacy_format";
    case FindingKind::below_threshold: return "below_threshold";
    case FindingKind::not_admitted: return "not_admitted";
    case FindingKind::earlier_policy: return "earlier_policy";
    case FindingKind::provider_not_configured: return "provider_not_configured";
    case FindingKind::provider_retired: return "provider_retired";
    case FindingKind::key_version_retired: return "key_version_retired";
    case FindingKind::key_version_not_configured: return "key_version_not_configured";
    case FindingKind::unopenable: return "unopenable";
  }
  return "unknown";
}

namespace {

std::string slot_list(const std::vector<std::vector<std::string>>& slots) {
  std::string out;
  for (const auto& slot : slots) {
    std::string names;
    for (const std::string& n : slot) names += (names.empty() ? "" : " ") + n;
    out += (out.empty() ? "[" : ", [") + names + "]";
  }
  return out;
}

void add(AuditedValue& v, FindingKind kind, const std::string& message) {
  v.findings.push_back({kind, printable(message)});
}

AuditedEnvelope summarize(const envelope::Envelope& env) {
  AuditedEnvelope out;
  out.threshold = env.threshold;
  for (const envelope::Slot& slot : env.slots) {
    AuditedSlot s;
    s.x = slot.x;
    for (const envelope::ShareRef& w : slot.wraps) {
      s.wraps.push_back({printable(w.provider, 63), printable(w.key_version, 255)});
    }
    out.slots.push_back(std::move(s));
  }
  return out;
}

}  // namespace

AuditPolicy::AuditPolicy(const config::Config& config,
                         std::set<std::string, std::less<>> retired_key_versions)
    : policy_(config.policy), retired_key_versions_(std::move(retired_key_versions)) {
  for (const config::ProviderConfig& p : config.providers) {
    configured_[p.name] = {providers::Registry::instance().find(p.type), p.settings};
  }
  for (const auto& slot : policy_.slots) in_policy_.insert(slot.begin(), slot.end());
  accepted_ = in_policy_;
  for (const config::EarlierPolicy& earlier : policy_.previous) {
    for (const auto& slot : earlier.slots) accepted_.insert(slot.begin(), slot.end());
  }
}

providers::KeyStanding AuditPolicy::standing(const Configured& provider,
                                             std::string_view key_version) const {
  if (provider.factory == nullptr || !provider.settings) return providers::KeyStanding::unknown;
  return provider.factory->key_standing(*provider.settings, key_version);
}

std::string AuditPolicy::describe() const {
  return std::to_string(policy_.threshold) + " of " + std::to_string(policy_.slots.size()) +
         " slots: " + slot_list(policy_.slots);
}

AuditedValue AuditPolicy::audit(std::string_view key, ByteView value) const {
  AuditedValue v;
  v.key = printable(key);
  v.storage = kms::classify_stored_value(value);
  v.storage.transformer = printable(v.storage.transformer, 32);
  v.storage.name = printable(v.storage.name, 253);
  switch (v.storage.storage) {
    case kms::Storage::identity:
      add(v, FindingKind::plaintext, "stored unencrypted (identity)");
      return v;
    case kms::Storage::aescbc:
    case kms::Storage::aesgcm:
    case kms::Storage::secretbox:
      add(v, FindingKind::local_key,
          std::string(kms::to_string(v.storage.storage)) + " with key '" + v.storage.name +
              "' from the EncryptionConfiguration, not under the quorum policy");
      return v;
    case kms::Storage::unknown:
      add(v, FindingKind::unknown_transformer,
          "k8s:enc: with a transformer or version kube-apiserver does not write ('" +
              v.storage.transformer + "')");
      return v;
    case kms::Storage::kms_v1:
    case kms::Storage::kms_v2: break;
  }
  auto inspection = inspect_stored(value);
  if (!inspection.ok()) {
    add(v, FindingKind::unparsable, inspection.error().message());
    return v;
  }
  const Inspection& in = inspection.value();
  if (!in.apiserver_error.empty()) add(v, FindingKind::apiserver_refuses, in.apiserver_error);
  if (in.legacy) {
    v.legacy = in.legacy->format;
    for (const envelope::LegacyPart& p : in.legacy->parts) {
      v.legacy_origins.push_back(printable(p.origin, 63));
    }
    add(v, FindingKind::legacy_format,
        std::string("written by the original Trousseau (") +
            std::string(envelope::to_string(in.legacy->format)) + "): re-encrypt it");
    return v;
  }
  if (!in.envelope) {
    add(v, FindingKind::not_trousseau, in.envelope_error);
    return v;
  }
  const envelope::Envelope& env = *in.envelope;
  v.envelope = summarize(env);
  if (env.threshold < policy_.threshold) {
    add(v, FindingKind::below_threshold,
        "threshold " + std::to_string(env.threshold) + " is below the policy's " +
            std::to_string(policy_.threshold));
  }
  auto admission = quorum::admit(env, policy_);
  if (!admission.ok()) {
    if (env.threshold >= policy_.threshold) {
      add(v, FindingKind::not_admitted, admission.error().message());
    }
  } else if (admission->policy > 0) {
    add(v, FindingKind::earlier_policy,
        "admitted only by policy.previous[" + std::to_string(admission->policy - 1) +
            "]: re-encrypt it under the current policy");
  }
  std::set<std::string, std::less<>> named;
  std::set<std::pair<std::string_view, std::string_view>> judged;
  unsigned usable_slots = 0;
  for (const envelope::Slot& slot : env.slots) {
    bool usable = false;
    for (const envelope::ShareRef& w : slot.wraps) {
      const auto provider = configured_.find(w.provider);
      const bool configured = provider != configured_.end();
      providers::KeyStanding key = providers::KeyStanding::unknown;
      if (configured) key = standing(provider->second, w.key_version);
      usable = usable || (configured && accepted_.contains(w.provider) &&
                          key != providers::KeyStanding::foreign);
      if (named.insert(w.provider).second) {
        if (!configured) {
          add(v, FindingKind::provider_not_configured,
              "provider '" + w.provider + "' is no longer configured");
        } else if (!in_policy_.contains(w.provider)) {
          add(v, FindingKind::provider_retired,
              "provider '" + w.provider + "' is configured but in no slot of the current policy");
        }
      }
      if (!configured || !judged.emplace(w.provider, w.key_version).second) continue;
      const std::string which = "provider '" + w.provider + "' wrapped its share under key '" +
                                w.key_version + "', ";
      if (key == providers::KeyStanding::foreign) {
        add(v, FindingKind::key_version_not_configured,
            which + "which its settings no longer hold: Decrypt refuses that share");
      } else if (key == providers::KeyStanding::previous) {
        add(v, FindingKind::key_version_retired,
            which + "which its settings keep only to unwrap: re-encrypt it under the current key");
      } else if (retired_key_versions_.contains(w.key_version)) {
        add(v, FindingKind::key_version_retired,
            which + "which is retired in the KMS (--retired-key-version): re-encrypt it");
      }
    }
    if (usable) ++usable_slots;
  }
  if (usable_slots < env.threshold) {
    add(v, FindingKind::unopenable,
        "only " + std::to_string(usable_slots) +
            " of its slots name a configured provider of an "
            "accepted policy under a key it holds, and it needs " +
            std::to_string(env.threshold) + ": Decrypt cannot open it");
  }
  return v;
}

void AuditSummary::add(const AuditedValue& value) {
  ++values_;
  if (value.compliant()) ++compliant_;
  for (const Finding& f : value.findings) ++findings_[f.kind];
  std::string label(kms::to_string(value.storage.storage));
  if (value.storage.storage != kms::Storage::identity && !value.storage.name.empty()) {
    const std::string named = label + " " + value.storage.name;
    if (storage_.contains(named) || storage_.size() < kMaxLabels) {
      label = named;
    } else {
      label += " (other names)";
    }
  }
  ++storage_[label];
  if (!value.envelope) return;
  std::set<std::string> held;  // a value counts once per key version
  for (const AuditedSlot& slot : value.envelope->slots) {
    for (const AuditedWrap& w : slot.wraps) held.insert(w.provider + " " + w.key_version);
  }
  for (const std::string& k : held) {
    if (key_versions_.contains(k) || key_versions_.size() < kMaxLabels) {
      ++key_versions_[k];
    } else {
      ++key_versions_["(other key versions)"];
    }
  }
}

namespace {

std::string envelope_text(const AuditedValue& v) {
  if (v.legacy) {
    std::string origins;
    for (const std::string& o : v.legacy_origins) origins += (origins.empty() ? "" : ", ") + o;
    return std::string(envelope::to_string(*v.legacy)) + ": " + origins;
  }
  if (!v.envelope) return "";
  const AuditedEnvelope& e = *v.envelope;
  std::string out = "format " + std::to_string(envelope::kFormat) + ", " +
                    std::to_string(e.threshold) + " of " + std::to_string(e.slots.size()) + ":";
  for (const AuditedSlot& s : e.slots) {
    out += " x" + std::to_string(s.x) + "=";
    bool first = true;
    for (const AuditedWrap& w : s.wraps) {
      out += (first ? "" : "+") + w.provider + "(" + (w.key_version.empty() ? "-" : w.key_version) +
             ")";
      first = false;
    }
  }
  return out;
}

std::string storage_text(const AuditedValue& v) {
  std::string out(kms::to_string(v.storage.storage));
  if (!v.storage.name.empty()) out += " " + v.storage.name;
  return out;
}

json::object value_json(const AuditedValue& v) {
  json::object o;
  o["key"] = v.key;
  o["storage"] = kms::to_string(v.storage.storage);
  o["name"] = v.storage.name.empty() ? json::value(nullptr) : json::value(v.storage.name);
  if (v.envelope) {
    json::array slots;
    for (const AuditedSlot& s : v.envelope->slots) {
      json::array wraps;
      for (const AuditedWrap& w : s.wraps) {
        wraps.push_back(json::object{{"provider", w.provider}, {"key_version", w.key_version}});
      }
      slots.push_back(json::object{{"x", s.x}, {"wraps", std::move(wraps)}});
    }
    o["envelope"] = json::object{{"format", envelope::kFormat},
                                 {"threshold", v.envelope->threshold},
                                 {"slots", std::move(slots)}};
  } else {
    o["envelope"] = nullptr;
  }
  if (v.legacy) {
    json::array origins;
    for (const std::string& s : v.legacy_origins) origins.push_back(json::value(s));
    o["legacy"] = json::object{{"format", std::string(envelope::to_string(*v.legacy))},
                               {"origins", std::move(origins)}};
  } else {
    o["legacy"] = nullptr;
  }
  json::array findings;
  for (const Finding& f : v.findings) {
    findings.push_back(json::object{{"kind", to_string(f.kind)}, {"message", f.message}});
  }
  o["findings"] = std::move(findings);
  o["compliant"] = v.compliant();
  return o;
}

std::string row(std::string_view status, const std::string& storage, const std::string& key) {
  std::string s(status);
  s.resize(std::max<std::size_t>(s.size() + 1, 9), ' ');
  std::string st = storage;
  st.resize(std::max<std::size_t>(st.size() + 1, 24), ' ');
  return s + st + key + "\n";
}

}  // namespace

AuditWriter::AuditWriter(std::ostream& out, Format format, bool only_findings)
    : out_(out), format_(format), only_findings_(only_findings) {}

void AuditWriter::begin(const AuditScope& scope) {
  if (format_ == Format::json) {
    json::object head{{"endpoints", printable(scope.endpoints)},
                      {"prefix", printable(scope.prefix)},
                      {"policy", scope.policy}};
    std::string text = json::serialize(head);
    text.pop_back();  // the object stays open: the values follow
    out_ << text << ",\"values\":[";
    return;
  }
  out_ << "etcd      " << printable(scope.endpoints) << "\n"
       << "prefix    " << printable(scope.prefix) << "\n"
       << "policy    " << scope.policy << "\n\n"
       << row("STATUS", "STORAGE", "KEY");
  out_.flush();
}

void AuditWriter::value(const AuditedValue& v) {
  if (only_findings_ && v.compliant()) return;
  if (format_ == Format::json) {
    out_ << (first_ ? "\n" : ",\n") << json::serialize(value_json(v));
    first_ = false;
    return;
  }
  out_ << row(v.compliant() ? "ok" : "FINDING", storage_text(v), v.key);
  if (const std::string e = envelope_text(v); !e.empty()) out_ << "         " << e << "\n";
  for (const Finding& f : v.findings) {
    out_ << "         " << to_string(f.kind) << ": " << f.message << "\n";
  }
}

void AuditWriter::end(const AuditSummary& summary, const etcd::ScanStats& stats,
                      const std::string& error) {
  const std::uint64_t with_findings = summary.values() - summary.compliant();
  if (format_ == Format::json) {
    json::object storage;
    for (const auto& [label, n] : summary.storage()) storage[label] = n;
    json::object findings;
    for (const auto& [kind, n] : summary.findings()) findings[to_string(kind)] = n;
    json::object key_versions;
    for (const auto& [label, n] : summary.key_versions()) key_versions[label] = n;
    json::object s{{"values", summary.values()},
                   {"compliant", summary.compliant()},
                   {"with_findings", with_findings},
                   {"storage", std::move(storage)},
                   {"findings", std::move(findings)},
                   {"key_versions", std::move(key_versions)},
                   {"revision", stats.revision},
                   {"pages", stats.pages},
                   {"complete", error.empty()},
                   {"error", error.empty() ? json::value(nullptr) : json::value(printable(error))}};
    out_ << (first_ ? "" : "\n") << "],\"summary\":" << json::serialize(s) << "}\n";
    out_.flush();
    return;
  }
  out_ << "\nsummary   " << summary.values() << " values at revision " << stats.revision << ", "
       << summary.compliant() << " meet the policy, " << with_findings << " with findings\n";
  for (const auto& [label, n] : summary.storage()) {
    out_ << "  " << label << ": " << n << "\n";
  }
  if (!summary.key_versions().empty()) {
    out_ << "key versions (values holding a share under each)\n";
    for (const auto& [label, n] : summary.key_versions()) out_ << "  " << label << ": " << n << "\n";
  }
  if (!summary.findings().empty()) {
    out_ << "findings\n";
    for (const auto& [kind, n] : summary.findings())
      out_ << "  " << to_string(kind) << ": " << n << "\n";
  }
  if (!error.empty()) out_ << "INCOMPLETE: the scan stopped: " << printable(error) << "\n";
  out_.flush();
}

}  // namespace trousseau::cli
