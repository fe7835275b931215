// The subcommands of `trousseau`. Each file under src/cli/ adds one to the
// application (its options and help) and returns what runs it once the
// command line has parsed; main.cpp only dispatches. docs/cli.md is the
// operator's reference.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace trousseau::cli {

/// Exit codes, the same for every command (docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,  ///< the operation failed: an RPC error, not ready, refused input
  kExitUsage = 2,   ///< the command line or the configuration is wrong
};

struct Command {
  CLI::App* app = nullptr;   ///< the subcommand, owned by its parent
  std::function<int()> run;  ///< returns the exit code
};

Command add_serve(CLI::App& parent);
Command add_check_config(CLI::App& parent);
Command add_version(CLI::App& parent);
Command add_encrypt(CLI::App& parent);
Command add_decrypt(CLI::App& parent);
Command add_status(CLI::App& parent);
Command add_inspect(CLI::App& parent);
Command add_audit(CLI::App& parent);
Command add_age_recipient(CLI::App& parent);
Command add_age_identity(CLI::App& parent);

}  // namespace trousseau::cli
