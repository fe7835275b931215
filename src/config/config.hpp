// The plugin's configuration as plain, validated structs. Nothing here
// names the YAML library: settings/node.cpp reads the document, and the
// engine and the services see only these structs.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "providers/registry.hpp"

namespace trousseau::config {

using settings::Diagnostics;
using settings::Duration;

enum class DecryptStrategy {
  hedged,  ///< best k first, more on failure or slowness
  all,     ///< every provider at once
};

/// A policy that envelopes were written under before the current one. It
/// stays accepted for Decrypt (never used by Encrypt) until the operator
/// has re-encrypted every Secret and removes it; every read that needs it is
/// logged and counted, so the operator sees when nothing old is left.
struct EarlierPolicy {
  unsigned threshold = 1;
  std::vector<std::vector<std::string>> slots;
};

struct PolicyConfig {
  unsigned threshold = 1;          ///< k
  unsigned min_encrypt_slots = 0;  ///< W, k <= W <= n (default n)
  DecryptStrategy decrypt = DecryptStrategy::hedged;
  std::vector<std::vector<std::string>> slots;  ///< provider names per slot
  std::vector<EarlierPolicy> previous;          ///< still accepted by Decrypt
};

struct ProviderConfig {
  std::string name;
  std::string type;
  Duration timeout{1000};           ///< per call, within the request budget
  unsigned max_inflight = 64;       ///< concurrent calls to this provider
  unsigned max_queue = 1024;        ///< calls waiting beyond that, then RESOURCE_EXHAUSTED
  std::shared_ptr<const providers::ProviderSettings> settings;
  /// The provider's whole entry as canonical text: a reload keeps a
  /// provider (its connections, sessions and latency history) only when
  /// this is unchanged.
  std::string fingerprint;
};

struct HealthConfig {
  Duration probe_interval{30000};
  Duration unhealthy_probe_interval{5000};
  Duration probe_timeout{5000};     ///< one probe's whole budget (several round trips for some KMSes)
  unsigned failure_threshold = 3;   ///< consecutive failures that open the breaker
  Duration breaker_backoff{30000};  ///< after which one trial call is let through

  bool operator==(const HealthConfig&) const = default;
};

struct RequestConfig {
  Duration default_deadline{3000};  ///< when the caller sets none
  Duration safety_margin{100};      ///< kept back from the caller's deadline
  Duration encrypt_grace{250};      ///< wait for stragglers once W slots hold shares
  Duration min_hedge_delay{2};      ///< never hedge sooner than this
};

struct TelemetryConfig {
  /// host:port of the /metrics, /livez and /readyz listener; nullopt: off.
  std::optional<std::string> listen = std::string("127.0.0.1:8095");
};

/// SOPS's key service API on a socket of its own (docs/integrations/sops.md).
struct SopsKeyServiceConfig {
  /// Absolute path of the socket (mode 0600); nullopt: off, the default.
  std::optional<std::string> socket;
};

/// The original Trousseau's origins (envelope/legacy.hpp) that Decrypt may
/// still open, through v1beta1 only, and the provider that holds each one's
/// key: {"vault": "old-vault", "awskms": "old-aws"}. Empty: none (the
/// default), and a legacy ciphertext is refused.
using LegacyConfig = std::map<std::string, std::string>;

/// The origins a `legacy:` entry may name, with the provider type each must
/// map to.
inline const std::map<std::string, std::string>& legacy_origin_types() {
  static const std::map<std::string, std::string> types = {{"vault", "vault"}, {"awskms", "awskms"}};
  return types;
}

struct Config {
  std::string socket = "/var/run/trousseau/kms.sock";
  std::optional<std::string> socket_group;
  std::string state_dir = "/var/lib/trousseau";
  log::Level log_level = log::Level::info;
  log::Format log_format = log::Format::json;
  TelemetryConfig telemetry;
  SopsKeyServiceConfig sops_keyservice;
  PolicyConfig policy;
  std::vector<ProviderConfig> providers;
  HealthConfig health;
  RequestConfig request;
  LegacyConfig legacy;
};

/// Parse and validate; every problem goes into `diag` with its path.
/// They return a config only when `diag` stays clean.
std::optional<Config> load_file(const std::string& path, Diagnostics& diag);
std::optional<Config> load_string(const std::string& yaml, Diagnostics& diag);

/// Builds the provider `pc` describes through its type's factory (which may
/// open files, load modules or dial servers). Errors name the provider.
Result<std::unique_ptr<providers::Provider>> create_provider(const ProviderConfig& pc,
                                                             const providers::ProviderContext& context);

}  // namespace trousseau::config
