// PKCS#11 in the provider contract suite: the process-wide SoftHSM2 token.
#include <string>

#include "softhsm.hpp"
#include "support/contract_targets.hpp"

TROUSSEAU_CONTRACT_TARGET("pkcs11", [] {
  return trousseau::testkit::SoftHsm::shared().provider_yaml("contract");
})
