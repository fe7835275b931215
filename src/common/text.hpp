// Small text helpers shared by every layer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace trousseau {

/// `value` in double quotes (named quote, not quoted: std::quoted would win
/// overload resolution by ADL for a std::string argument) with '"', '\\' and every byte outside printable
/// ASCII escaped (\n, \t, \xNN), cut at `max` bytes with "…" appended. Use it
/// for anything a client, an envelope or a remote server supplied before it
/// goes into a log line or an error message.
std::string quote(std::string_view value, std::size_t max = 200);

/// How append_escaped writes a byte outside printable ASCII.
enum class Escape {
  c,     ///< \xNN
  json,  ///< \u00NN: valid JSON whatever the bytes
};

/// Appends `value` with '"', '\\', \n, \r, \t and every byte outside
/// printable ASCII escaped, at most `max` bytes of it. Returns false when
/// it had to cut.
bool append_escaped(std::string& out, std::string_view value, std::size_t max, Escape style);

/// "a, b, c" (or with another separator).
std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ");

}  // namespace trousseau
