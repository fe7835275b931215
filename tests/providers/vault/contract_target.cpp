// Vault Transit in the provider contract suite: one Vault test double for
// the whole binary, with one key and a token in a file.
#include <string>

#include "support/contract_targets.hpp"
#include "support/temp_dir.hpp"
#include "vault_double.hpp"

TROUSSEAU_CONTRACT_TARGET("vault", [] {
  using trousseau::testkit::VaultDouble;
  static VaultDouble vault;
  static trousseau::testkit::TempDir dir;
  static const std::string token_file = [] {
    vault.create_key("contract");
    const std::string path = dir.file("token");
    trousseau::testkit::write_file(path, vault.create_token(0));
    return path;
  }();
  return "{name: contract, type: vault, address: '" + vault.address() +
         "', key: contract, auth: {method: token, token_file: " + token_file + "}}";
})
