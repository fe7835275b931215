// Structured logging to stderr: one line per event, a message and key/value
// fields. The writer escapes and quotes every value, so a value that came
// from a client, an envelope or a remote server can never start a new line
// or a new field. Never pass secret material; SecretBytes has no printer on
// purpose.
//
//   log::warn("degraded encrypt", {{"missing", join(missing, ",")}, {"slots", 2}});
//
// json (the default, one object per line):
//   {"ts":"2026-11-29T11:20:00.123Z","level":"warn","msg":"degraded encrypt","missing":"c","slots":2}
// logfmt (log_format: logfmt):
//   2026-11-29T11:20:00.123Z level=warn msg="degraded encrypt" missing=c slots=2
#pragma once

#include <concepts>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace trousseau::log {

enum class Level { debug, info, warn, error };
enum class Format { logfmt, json };

/// One field. The key is an identifier of ours ([a-z0-9_]); the value is
/// any text, escaped when written and cut at kMaxValue bytes.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), number(true) {}

  std::string_view key;
  std::string value;
  bool number = false;  ///< written bare in JSON too
};

using Fields = std::initializer_list<Field>;

/// Longest value written; the rest is cut and "…" appended.
inline constexpr std::size_t kMaxValue = 2000;

void set_level(Level level);
void set_format(Format format);
bool enabled(Level level);
void write(Level level, std::string_view message, Fields fields = {});

/// One line as `write` prints it (without the newline), for tests.
std::string render(Format format, std::string_view timestamp, Level level,
                   std::string_view message, std::span<const Field> fields);

inline void debug(std::string_view m, Fields f = {}) { if (enabled(Level::debug)) write(Level::debug, m, f); }
inline void info(std::string_view m, Fields f = {}) { write(Level::info, m, f); }
inline void warn(std::string_view m, Fields f = {}) { write(Level::warn, m, f); }
inline void error(std::string_view m, Fields f = {}) { write(Level::error, m, f); }

}  // namespace trousseau::log
