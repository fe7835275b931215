// Typed, path-aware reading of YAML configuration. Every problem is recorded
// with its field path ("providers[2].path") so that check-config can report
// all of them at once; reading continues with defaults after an error.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace trousseau::config {

using Duration = std::chrono::milliseconds;

class Diagnostics {
 public:
  void error(const std::string& path, const std::string& message);
  bool ok() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

/// One YAML mapping (or sequence element) and its path.
class Node {
 public:
  Node(YAML::Node node, std::string path, Diagnostics& diag);

  const std::string& path() const { return path_; }
  Diagnostics& diagnostics() { return *diag_; }
  bool has(const std::string& key) const;
  std::string child_path(const std::string& key) const;

  /// Required or defaulted scalars. A missing required key, a wrong type or
  /// an out-of-range value is recorded and the fallback returned.
  std::string string(const std::string& key);                        // required
  std::string string(const std::string& key, const std::string& fallback);
  std::optional<std::string> optional_string(const std::string& key);
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  bool boolean(const std::string& key, bool fallback);
  /// "250ms", "3s", "2m", "1h"; must lie within [min, max].
  Duration duration(const std::string& key, Duration fallback, Duration min, Duration max);
  std::vector<std::string> string_list(const std::string& key);

  /// A nested mapping; an absent key gives an empty node.
  Node mapping(const std::string& key);
  /// Elements of a sequence of mappings.
  std::vector<Node> sequence(const std::string& key);
  YAML::Node raw(const std::string& key) const;

  /// Records every key of this mapping that no accessor has read.
  void reject_unknown_keys();

  void error(const std::string& key, const std::string& message);

 private:
  YAML::Node node_;
  std::string path_;
  Diagnostics* diag_;
  std::set<std::string> consumed_;
};

std::optional<Duration> parse_duration(const std::string& text);

}  // namespace trousseau::config
