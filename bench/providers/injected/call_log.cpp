#include "bench/providers/injected/call_log.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace trousseau::bench::injected {

namespace {

/// Serialises the writers of every file: providers may share one.
std::mutex g_write_mutex;

std::string_view op_name(Op op) {
  switch (op) {
    case Op::wrap: return "wrap";
    case Op::unwrap: return "unwrap";
    case Op::probe: return "probe";
  }
  return "unknown";
}

/// One field of a TSV line: no tab, newline or other control byte.
std::string field(std::string_view text) {
  if (text.empty()) return "-";
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

CallLog::CallLog(std::string path) : path_(std::move(path)) {}

Error CallLog::prepare(const std::string& path) {
  std::ofstream file(path, std::ios::out | std::ios::trunc);
  if (!file) return unavailable("cannot create record file " + path + ": " + std::strerror(errno));
  return {};
}

std::size_t CallLog::begin(std::string_view request_id, Op op,
                           std::optional<std::chrono::nanoseconds> drawn) {
  if (path_.empty()) return kNone;
  const Clock::time_point now = Clock::now();
  std::lock_guard lock(mutex_);
  entries_.push_back({std::string(request_id), op, drawn, std::nullopt, now, {}});
  return entries_.size() - 1;
}

void CallLog::end(std::size_t index, Code outcome) {
  if (index == kNone) return;
  const Clock::time_point now = Clock::now();
  std::lock_guard lock(mutex_);
  Entry& e = entries_.at(index);
  e.outcome = outcome;
  e.ended = now;
}

Error CallLog::write(std::string_view provider) const {
  if (path_.empty()) return {};
  std::string text;
  {
    std::lock_guard lock(mutex_);
    const std::string name = field(provider);
    for (const Entry& e : entries_) {
      text.append(field(e.request_id)).append("\t").append(name).append("\t");
      text.append(op_name(e.op)).append("\t");
      text.append(e.drawn ? std::to_string(e.drawn->count()) : "inf").append("\t");
      text.append(e.outcome ? to_string(*e.outcome) : "unfinished").append("\t");
      text.append(e.outcome ? std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 e.ended - e.started)
                                                 .count())
                            : "-")
          .append("\n");
    }
  }
  std::lock_guard lock(g_write_mutex);
  std::ofstream file(path_, std::ios::out | std::ios::app);
  file << text;
  file.flush();
  if (!file) return unavailable("cannot write record file " + path_ + ": " + std::strerror(errno));
  return {};
}

}  // namespace trousseau::bench::injected
