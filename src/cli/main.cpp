// trousseau <command>: the plugin and the operator's tools around it.
// Each command lives in its own file (commands.hpp); docs/cli.md is the
// reference, exit codes included.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli/commands.hpp"

namespace trousseau::cli {

Command add_version(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("version", "Print the version");
  return {app, [] {
            std::cout << "trousseau " << TROUSSEAU_VERSION << "\n";
            return static_cast<int>(kExitOk);
          }};
}

}  // namespace trousseau::cli

int main(int argc, char** argv) {
  using namespace trousseau::cli;
  CLI::App app{"Trousseau: a Kubernetes KMS plugin with quorum over several KMSes"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 success; 1 the operation failed; 2 usage or configuration error.\n"
      "`trousseau <command> --help` describes each command.");
  const Command commands[] = {add_serve(app),   add_check_config(app), add_encrypt(app),
                              add_decrypt(app), add_status(app),       add_inspect(app),
                              add_audit(app),   add_age_recipient(app), add_age_identity(app),
                              add_version(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and succeeds; every other parse error is a usage error,
    // whatever number CLI11 gives it.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (const Command& c : commands) {
      if (c.app->parsed()) return c.run();
    }
  } catch (const std::exception& e) {
    std::cerr << "trousseau: unexpected error: " << e.what() << "\n";
    return kExitFailed;
  }
  return kExitUsage;  // require_subcommand(1) makes this unreachable
}
