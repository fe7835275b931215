// Running a built program the way an operator would: arguments, standard
// input, and what it printed on each stream, with its exit code.
#pragma once

#include <string>
#include <vector>

namespace trousseau::testkit {

struct CommandResult {
  int exit_code = -1;  ///< -1 when it did not exit normally (see signal)
  int signal = 0;      ///< the signal that ended it, 0 if none
  std::string out, err;
};

/// Runs `argv` (argv[0] a path, no shell) with `input` as its standard
/// input, and waits until it ends. Output goes through files, so a program
/// that prints a lot never blocks on a pipe nobody reads.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = {});

/// run_command with the `trousseau` binary under test first: `args` are
/// its command and options.
CommandResult run_trousseau(std::vector<std::string> args, const std::string& input = {});

/// The `trousseau` binary under test ($TROUSSEAU_BIN, which meson sets);
/// fails the current test when it is not set.
std::string trousseau_bin();

}  // namespace trousseau::testkit
