#include "common/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "common/text.hpp"

namespace trousseau::log {

namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::json};  // as config::Config defaults
std::mutex g_mutex;

const char* name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "?";
}

/// Bare when it cannot be mistaken for anything else, quoted otherwise.
void append_logfmt(std::string& out, std::string_view value) {
  bool bare = !value.empty() && value.size() <= kMaxValue;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\') {
      bare = false;
      break;
    }
  }
  out += bare ? std::string(value) : quote(value, kMaxValue);
}

/// A JSON string, valid whatever bytes the value held.
void append_json(std::string& out, std::string_view value) {
  out += '"';
  if (!append_escaped(out, value, kMaxValue, Escape::json)) out += "\\u2026";
  out += '"';
}

}  // namespace

void set_level(Level level) { g_level = level; }
void set_format(Format format) { g_format = format; }
bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

std::string render(Format format, std::string_view timestamp, Level level,
                   std::string_view message, std::span<const Field> fields) {
  std::string out;
  if (format == Format::json) {
    out += "{\"ts\":";
    append_json(out, timestamp);
    out += ",\"level\":\"";
    out += name(level);
    out += "\",\"msg\":";
    append_json(out, message);
    for (const Field& f : fields) {
      out += ',';
      append_json(out, f.key);
      out += ':';
      if (f.number) {
        out += f.value;
      } else {
        append_json(out, f.value);
      }
    }
    out += '}';
    return out;
  }
  out += timestamp;
  out += " level=";
  out += name(level);
  out += " msg=";
  out += quote(message, kMaxValue);
  for (const Field& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    append_logfmt(out, f.value);
  }
  return out;
}

void write(Level level, std::string_view message, Fields fields) {
  if (!enabled(level)) return;
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[40];
  const std::size_t len = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + len, sizeof stamp - len, ".%03dZ", static_cast<int>(ms.count()));
  const std::string line = render(g_format.load(std::memory_order_relaxed), stamp, level, message,
                                  std::span<const Field>(fields.begin(), fields.size())) + "\n";
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace trousseau::log
