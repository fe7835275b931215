// trousseau check-config FILE [--ha]
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/config_file.hpp"
#include "cli/io.hpp"

namespace trousseau::cli {

namespace {

struct CheckOptions {
  std::string path;
  bool ha = false;
};

/// Prints why the configuration would not give every node of a control
/// plane the same keys; returns how many warnings it printed.
std::size_t print_ha_warnings(const std::string& path, const config::Config& cfg) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < cfg.providers.size(); ++i) {
    const config::ProviderConfig& pc = cfg.providers[i];
    const providers::ProviderFactory* factory = providers::Registry::instance().find(pc.type);
    if (factory == nullptr || pc.settings == nullptr) continue;
    for (const std::string& w : factory->shared_key_warnings(*pc.settings)) {
      std::cout << path << ": warning: providers[" << i << "] (" << printable(pc.name)
                << "): " << printable(w) << "\n";
      ++count;
    }
  }
  return count;
}

}  // namespace

Command add_check_config(CLI::App& parent) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* app = parent.add_subcommand(
      "check-config", "Validate a configuration file without touching keys, modules or servers");
  app->add_option("file", o->path, "Configuration file")->required();
  app->add_flag("--ha", o->ha,
                "The file serves several control-plane nodes: also warn about keys that each "
                "node would hold on its own (a key file created on start, a SoftHSM2 token)");
  app->footer(
      "Prints every problem with its field path. Exit codes: 0 valid (warnings from --ha "
      "included); 2 the file cannot be read or has errors (the code `serve` would exit with).");
  return {app, [o] {
            auto cfg = load_config(o->path);
            if (!cfg) return static_cast<int>(kExitUsage);
            std::cout << o->path << ": ok (" << cfg->providers.size() << " providers, "
                      << cfg->policy.threshold << "-of-" << cfg->policy.slots.size()
                      << ", writes need " << cfg->policy.min_encrypt_slots << " slots)\n";
            if (o->ha && print_ha_warnings(o->path, *cfg) == 0) {
              std::cout << o->path << ": every key can be shared by the nodes as configured\n";
            }
            return static_cast<int>(kExitOk);
          }};
}

}  // namespace trousseau::cli
