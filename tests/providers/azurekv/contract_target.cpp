// Azure Key Vault in the provider contract suite: one double for the whole
// binary, with one RSA key, reached with client-secret tokens.
#include <string>

#include "keyvault_double.hpp"
#include "support/contract_targets.hpp"

TROUSSEAU_CONTRACT_TARGET("azurekv", [] {
  using trousseau::testkit::KeyVaultDouble;
  static KeyVaultDouble double_;
  static const std::string kid = double_.create_key("contract", "RSA");
  return "{name: contract, type: azurekv, " + double_.entry("contract") + "}";
})
