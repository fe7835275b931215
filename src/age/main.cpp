// age-plugin-trousseau: age starts it with --age-plugin=recipient-v1 to
// wrap a file key, or --age-plugin=identity-v1 to unwrap one, and talks to
// it over standard input and output (docs/integrations/age.md).
#include <chrono>
#include <iostream>
#include <string_view>

#include "age/plugin.hpp"
#include "age/trousseau_keys.hpp"
#include "common/process.hpp"

namespace {

/// Each call to the plugin's socket: long enough for a quorum that hedges
/// and retries, short enough that age never seems to hang.
constexpr std::chrono::seconds kCallTimeout{10};

}  // namespace

int main(int argc, char** argv) {
  using namespace trousseau;
  const std::string_view arg = argc == 2 ? argv[1] : "";
  if (arg != "--age-plugin=recipient-v1" && arg != "--age-plugin=identity-v1") {
    std::cerr << "age-plugin-trousseau: age runs this program; use `age -r age1trousseau1…` or\n"
                 "`age -d -i <identity file>` (see `trousseau age-recipient --help`)\n";
    return 2;
  }
  // The file key is in this process: no core file, no ptrace by others.
  if (Error e = harden_process(); !e.ok()) {
    std::cerr << "age-plugin-trousseau: " << e.message() << "\n";
    return 1;
  }
  std::ios::sync_with_stdio(false);
  age::TrousseauKeys keys(kCallTimeout);
  return arg == "--age-plugin=recipient-v1" ? age::run_recipient_v1(std::cin, std::cout, keys)
                                            : age::run_identity_v1(std::cin, std::cout, keys);
}
