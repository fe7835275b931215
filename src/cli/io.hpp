// Standard input and output for the commands, and how they show text that
// came from outside (a server, a stored value) on a terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace trousseau::cli {

/// All of `path` ("-": standard input), at most `limit` bytes; more is an
/// error naming the limit. The buffer is reserved up front (up to 1 MiB),
/// so that a plaintext read from a pipe leaves no stray copies behind in
/// freed memory; the caller wipes it.
Result<std::string> read_input(const std::string& path, std::size_t limit);

/// Writes all of `data` to standard output.
Error write_output(std::string_view data);

/// write_output for `command`: kExitOk, or kExitFailed once the error is
/// printed.
int print_output(std::string_view command, std::string_view data);

/// `text` with control bytes and bytes outside printable ASCII escaped
/// (\n, \t, \xNN), cut at `max` bytes with "...": a value from a server or
/// a stored object can never move the cursor or forge a line.
std::string printable(std::string_view text, std::size_t max = 1024);

/// `text` without ASCII white space: base64 as `base64` wraps it, or with
/// the newline `echo` adds.
std::string remove_whitespace(std::string_view text);

/// "trousseau <command>: <message>" on standard error, `message` printable.
void print_error(std::string_view command, std::string_view message);

}  // namespace trousseau::cli
