#include "cli/config_file.hpp"

#include <iostream>

#include "cli/io.hpp"

namespace trousseau::cli {

std::optional<config::Config> load_config(const std::string& path) {
  config::Diagnostics diag;
  auto cfg = config::load_file(path, diag);
  for (const std::string& e : diag.errors()) std::cerr << path << ": " << printable(e) << "\n";
  if (!cfg && diag.errors().empty()) std::cerr << path << ": invalid configuration\n";
  return cfg;
}

}  // namespace trousseau::cli
