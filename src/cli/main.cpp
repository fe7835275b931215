// trousseau: serve | check-config | version
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/log.hpp"
#include "config/config.hpp"
#include "common/process.hpp"
#include "daemon/daemon.hpp"

namespace {

using namespace trousseau;

std::optional<config::Config> load(const std::string& path) {
  config::Diagnostics diag;
  auto cfg = config::load_file(path, diag);
  for (const std::string& e : diag.errors()) std::cerr << path << ": " << e << "\n";
  return cfg;
}

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
            << "      - identity: {}\n"
            << std::endl;
}

int serve(const std::string& path) {
  // Keys, shares and plaintexts live in this process: no core file, and no
  // ptrace or /proc/<pid>/mem by other users, before anything is loaded.
  if (Error e = harden_process(); !e.ok()) {
    log::error("cannot harden the process", {{"error", e.message()}});
    return 1;
  }
  auto cfg = load(path);
  if (!cfg) return 2;
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
    return 1;
  }
  if (Error e = daemon.value()->start(); !e.ok()) {
    log::error("cannot start", {{"error", e.message()}});
    daemon.value()->shutdown(std::chrono::milliseconds(0));
    return 1;
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
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trousseau: a Kubernetes KMS plugin with quorum over several KMSes"};
  app.require_subcommand(1);
  std::string config_path;
  auto* serve_cmd = app.add_subcommand("serve", "Serve KMS v2 and v1beta1 on the configured socket");
  serve_cmd->add_option("-c,--config", config_path, "Configuration file")->required();
  std::string check_path;
  auto* check_cmd = app.add_subcommand("check-config", "Validate a configuration file");
  check_cmd->add_option("file", check_path, "Configuration file")->required();
  app.add_subcommand("version", "Print the version");
  CLI11_PARSE(app, argc, argv);

  if (*serve_cmd) return serve(config_path);
  if (*check_cmd) {
    auto cfg = load(check_path);
    if (!cfg) return 1;
    std::cout << check_path << ": ok (" << cfg->providers.size() << " providers, "
              << cfg->policy.threshold << "-of-" << cfg->policy.slots.size() << ", writes need "
              << cfg->policy.min_encrypt_slots << " slots)\n";
    return 0;
  }
  std::cout << "trousseau " << TROUSSEAU_VERSION << "\n";
  return 0;
}
