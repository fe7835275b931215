// Typed, path-aware reading of configuration. Every problem is recorded
// with its field path ("providers[2].path") so that check-config can report
// all of them at once; reading continues with defaults after an error.
//
// This is the layer beneath the providers' parse step: providers read their
// own keys through Node, and no header here names the YAML library. Only
// node.cpp sees yaml-cpp, so the engine and the services never compile
// against it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trousseau::settings {

using Duration = std::chrono::milliseconds;

class Diagnostics {
 public:
  void error(const std::string& path, const std::string& message);
  bool ok() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

/// One mapping of the document, its path, and which of its keys were read.
/// Move-only: a copy would split that record.
class Node {
 public:
  /// Parses a YAML document whose top level must be a mapping. A syntax
  /// error or another top level is recorded in `diag`; nullopt then.
  static std::optional<Node> parse_yaml(std::string_view text, Diagnostics& diag);

  ~Node();
  Node(Node&&) noexcept;
  Node& operator=(Node&&) noexcept;

  const std::string& path() const;
  /// The node's content as canonical text (mapping keys sorted, scalars
  /// quoted): equal for equal settings however the YAML was written. Tells
  /// a reload which providers changed.
  std::string canonical() const;
  Diagnostics& diagnostics();
  /// Present and not null.
  bool has(const std::string& key) const;
  std::string child_path(const std::string& key) const;

  /// Required or defaulted scalars. A missing required key, a wrong type or
  /// an out-of-range value is recorded and the fallback returned.
  std::string string(const std::string& key);  // required
  std::string string(const std::string& key, const std::string& fallback);
  std::optional<std::string> optional_string(const std::string& key);
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  bool boolean(const std::string& key, bool fallback);
  /// "250ms", "3s", "2m", "1h"; must lie within [min, max].
  Duration duration(const std::string& key, Duration fallback, Duration min, Duration max);
  std::vector<std::string> string_list(const std::string& key);
  /// A mapping of scalar keys to scalar values (an AWS EncryptionContext);
  /// absent: empty.
  std::map<std::string, std::string> string_map(const std::string& key);
  /// A nested mapping; an absent key gives an empty node.
  Node mapping(const std::string& key);
  /// Elements of a sequence of mappings.
  std::vector<Node> sequence(const std::string& key);
  /// A key that must not be there, whatever its value: when present, it is
  /// recorded once with `why` (and counts as read).
  void forbid(const std::string& key, const std::string& why);

  /// Records every key of this mapping that no accessor has read.
  void reject_unknown_keys();
  void error(const std::string& key, const std::string& message);

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

std::optional<Duration> parse_duration(const std::string& text);

}  // namespace trousseau::settings
