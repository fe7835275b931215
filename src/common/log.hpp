// Minimal structured logging to stderr: one line per event, key=value pairs.
// Never pass secret material; SecretBytes has no printer on purpose.
#pragma once

#include <string_view>

namespace trousseau::log {

enum class Level { debug, info, warn, error };

void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view message);

inline void debug(std::string_view m) { if (enabled(Level::debug)) write(Level::debug, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void warn(std::string_view m) { write(Level::warn, m); }
inline void error(std::string_view m) { write(Level::error, m); }

}  // namespace trousseau::log
