// trousseau audit: how every value under a prefix of etcd is stored, and
// whether it meets the policy in force. Reads etcd over mutual TLS, needs no
// KMS and decrypts nothing (cli/audit_report.hpp says what it judges).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cli/audit_report.hpp"
#include "cli/commands.hpp"
#include "cli/config_file.hpp"
#include "cli/io.hpp"
#include "common/secret.hpp"
#include "etcd/kv_client.hpp"
#include "settings/node.hpp"

namespace trousseau::cli {

namespace {

/// PEM files are small; a larger one is not what the option meant.
constexpr std::size_t kMaxPemFile = 1 << 20;

struct AuditOptions {
  std::vector<std::string> endpoints{"https://127.0.0.1:2379"};
  // kubeadm's paths on a control-plane node.
  std::string cacert = "/etc/kubernetes/pki/etcd/ca.crt";
  std::string cert = "/etc/kubernetes/pki/apiserver-etcd-client.crt";
  std::string key = "/etc/kubernetes/pki/apiserver-etcd-client.key";
  std::string prefix = "/registry/secrets/";
  bool all_resources = false;
  std::string config;
  std::string output = "table";
  bool only_findings = false;
  std::int64_t page_size = 500;
  std::string timeout = "30s";
  std::vector<std::string> retired_key_versions;
};

Result<etcd::TlsCredentials> read_credentials(const AuditOptions& o) {
  etcd::TlsCredentials tls;
  for (auto [path, into, what] :
       {std::tuple{&o.cacert, &tls.ca, "--cacert"}, std::tuple{&o.cert, &tls.cert, "--cert"},
        std::tuple{&o.key, &tls.key, "--key"}}) {
    auto text = read_input(*path, kMaxPemFile);
    if (!text.ok())
      return Error(text.error().code(), std::string(what) + ": " + text.error().message());
    *into = std::move(text.value());
  }
  return tls;
}

int audit_command(const AuditOptions& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return kExitUsage;
  auto tls = read_credentials(o);
  if (!tls.ok()) {
    print_error("audit", tls.error().message());
    return kExitUsage;
  }
  const etcd::ClientOptions options{
      .timeout = settings::parse_duration(o.timeout).value_or(std::chrono::seconds(30)),
      .page_size = o.page_size};
  auto client = etcd::KvClient::create(o.endpoints, tls.value(), options);
  secure_wipe(tls->key);
  if (!client.ok()) {
    print_error("audit", client.error().message());
    return kExitUsage;
  }
  const AuditPolicy policy(*cfg, {o.retired_key_versions.begin(), o.retired_key_versions.end()});
  AuditWriter writer(std::cout,
                     o.output == "json" ? AuditWriter::Format::json : AuditWriter::Format::table,
                     o.only_findings);
  std::string endpoints;
  for (const std::string& e : o.endpoints) endpoints += (endpoints.empty() ? "" : ",") + e;
  const std::string prefix = o.all_resources ? "/registry/" : o.prefix;
  writer.begin({endpoints, prefix, policy.describe()});
  AuditSummary summary;
  auto stats = client.value()->scan(prefix, [&](std::string_view key, ByteView value) {
    const AuditedValue v = policy.audit(key, value);
    summary.add(v);
    writer.value(v);
  });
  writer.end(summary, stats.ok() ? stats.value() : etcd::ScanStats{},
             stats.ok() ? std::string() : stats.error().message());
  if (!stats.ok()) {
    print_error("audit", stats.error().message());
    return kExitUsage;
  }
  if (!std::cout) {
    print_error("audit", "cannot write the report to standard output");
    return kExitUsage;
  }
  return summary.compliant() == summary.values() ? kExitOk : kExitFailed;
}

}  // namespace

Command add_audit(CLI::App& parent) {
  auto o = std::make_shared<AuditOptions>();
  CLI::App* app = parent.add_subcommand(
      "audit",
      "Report how every value in etcd is stored and whether it meets the policy, "
      "without any KMS and decrypting nothing");
  app->add_option("--endpoints", o->endpoints, "etcd members, https://host:port, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--cacert", o->cacert, "CA of etcd's server certificate (PEM)")
      ->capture_default_str();
  app->add_option("--cert", o->cert, "Client certificate etcd trusts (PEM)")->capture_default_str();
  app->add_option("--key", o->key, "Its private key (PEM)")->capture_default_str();
  auto* prefix =
      app->add_option("--prefix", o->prefix, "Key prefix to scan")->capture_default_str();
  app->add_flag("--all-resources", o->all_resources, "Scan every resource (/registry/)")
      ->excludes(prefix);
  app->add_option("-c,--config", o->config, "The plugin's configuration: the policy in force")
      ->required();
  app->add_option("--retired-key-version", o->retired_key_versions,
                  "A key version retired in the KMS itself (as the report prints it, e.g. "
                  "transit/keys/k@v1): values still holding a share under it are findings. "
                  "Repeatable");
  app->add_option("-o,--output", o->output, "table (for people) or json (for tools)")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json"}));
  app->add_flag("--only-findings", o->only_findings,
                "List only the values with findings (the summary still counts all)");
  app->add_option("--page-size", o->page_size, "Keys per etcd request")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10000}));
  app->add_option("--timeout", o->timeout, "Deadline of each etcd request, e.g. 30s")
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        auto d = settings::parse_duration(text);
        if (!d || d->count() <= 0) return "must be a positive duration such as 500ms or 30s";
        return {};
      });
  app->footer(
      "Exit codes: 0 every value meets the policy; 1 at least one finding; 2 the scan "
      "could not run or stopped (usage, configuration, certificates, etcd unreachable or "
      "refusing).");
  return {app, [o] { return audit_command(*o); }};
}

}  // namespace trousseau::cli
