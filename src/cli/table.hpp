// Plain text tables for the terminal: left-aligned columns two spaces
// apart, cells made printable.
#pragma once

#include <string>
#include <vector>

namespace trousseau::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}

  /// Cells beyond the header's count are dropped, missing ones are empty.
  void add(std::vector<std::string> row);
  /// Every row on its own line, each prefixed with `indent`; trailing
  /// blanks trimmed.
  std::string render(const std::string& indent = "") const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace trousseau::cli
