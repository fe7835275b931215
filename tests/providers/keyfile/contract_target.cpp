// The key file in the provider contract suite: a fresh file in a temp dir.
#include <string>

#include "support/contract_targets.hpp"
#include "support/temp_dir.hpp"

TROUSSEAU_CONTRACT_TARGET("keyfile", [] {
  static trousseau::testkit::TempDir dir;
  static const std::string path = dir.file("contract.key");
  return "{name: contract, type: keyfile, path: " + path + "}";
})
