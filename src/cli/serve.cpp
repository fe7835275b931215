// trousseau serve --config FILE
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/config_file.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "daemon/daemon.hpp"

namespace trousseau::cli {

namespace {

void print_encryption_configuration(const config::Config& cfg) {
  std::cout << "Trousseau is serving KMS v2 and v1beta1 on unix://" << cfg.socket << "\n"
            << "Point kube-apiserver at it with --encryption-provider-config:\n\n"
            << "apiVersion: apiserver.config.k8s.io/v1\n"
            << "kind: EncryptionConfiguration\n"
            << "resources:\n"
            << "  - resources: [secrets]\n"
            << "    providers:\n"
            << "      - kms:\n"
            << "          apiVersion: v2\n"
            << "          name: trousseau\n"
            << "          endpoint: unix://" << cfg.socket << "\n"
            << "          timeout: 3s\n"
            << "      # Reads Secrets written before encryption was on. Remove it once\n"
            << "      # every Secret has been re-encrypted\n"
            << "      # (kubectl get secrets -A -o json | kubectl replace -f -): while it\n"
            << "      # stays, whoever can write etcd can inject plaintext Secrets.\n"
            << "      - identity: {}\n"
            << std::endl;
}

int serve(const std::string& path) {
  // Keys, shares and plaintexts live in this process: no core file, and no
  // ptrace or /proc/<pid>/mem by other users, before anything is loaded.
  if (Error e = harden_process(); !e.ok()) {
    log::error("cannot harden the process", {{"error", e.message()}});
    return kExitFailed;
  }
  auto cfg = load_config(path);
  if (!cfg) return kExitUsage;
  log::set_level(cfg->log_level);
  log::set_format(cfg->log_format);
  // Block the signals in every thread; this one waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto daemon = daemon::Daemon::create(*cfg, {.create_missing_keys = true, .config_path = path});
  if (!daemon.ok()) {
    log::error("cannot start", {{"error", daemon.error().message()}});
    return kExitFailed;
  }
  if (Error e = daemon.value()->start(); !e.ok()) {
    log::error("cannot start", {{"error", e.message()}});
    daemon.value()->shutdown(std::chrono::milliseconds(0));
    return kExitFailed;
  }
  print_encryption_configuration(*cfg);
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    log::info("SIGHUP: reloading the configuration", {{"path", path}});
    daemon.value()->request_reload();
  }
  log::info("draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  daemon.value()->shutdown(daemon.value()->engine()->config().request.default_deadline +
                           std::chrono::seconds(2));
  log::info("stopped");
  return kExitOk;
}

}  // namespace

Command add_serve(CLI::App& parent) {
  auto path = std::make_shared<std::string>();
  CLI::App* app =
      parent.add_subcommand("serve", "Serve KMS v2 and v1beta1 on the configured socket");
  app->add_option("-c,--config", *path, "Configuration file")->required();
  app->footer(
      "SIGHUP, or a change of the file, reloads the configuration; a bad one keeps the\n"
      "running configuration. SIGTERM or SIGINT drains in-flight calls and stops.\n"
      "Exit codes: 0 stopped by SIGTERM or SIGINT after draining; 1 cannot start "
      "(a provider, the socket, the telemetry listener); 2 usage or configuration error.");
  return {app, [path] { return serve(*path); }};
}

}  // namespace trousseau::cli
