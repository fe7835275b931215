// trousseau check-config FILE
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/config_file.hpp"

namespace trousseau::cli {

Command add_check_config(CLI::App& parent) {
  auto path = std::make_shared<std::string>();
  CLI::App* app = parent.add_subcommand(
      "check-config", "Validate a configuration file without touching keys, modules or servers");
  app->add_option("file", *path, "Configuration file")->required();
  app->footer(
      "Prints every problem with its field path. Exit codes: 0 valid; 2 the file "
      "cannot be read or has errors (the code `serve` would exit with).");
  return {app, [path] {
            auto cfg = load_config(*path);
            if (!cfg) return static_cast<int>(kExitUsage);
            std::cout << *path << ": ok (" << cfg->providers.size() << " providers, "
                      << cfg->policy.threshold << "-of-" << cfg->policy.slots.size()
                      << ", writes need " << cfg->policy.min_encrypt_slots << " slots)\n";
            return static_cast<int>(kExitOk);
          }};
}

}  // namespace trousseau::cli
