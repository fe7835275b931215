// Google Cloud KMS in the provider contract suite: one double for the whole
// binary, with one symmetric key, reached with a service-account key.
#include <string>

#include "cloudkms_double.hpp"
#include "support/contract_targets.hpp"

TROUSSEAU_CONTRACT_TARGET("gcpkms", [] {
  using trousseau::testkit::CloudKmsDouble;
  static CloudKmsDouble double_;
  static const std::string key = CloudKmsDouble::key_path("contract");
  static const std::string version = double_.create_key(key);
  return "{name: contract, type: gcpkms, " + double_.entry(key) + "}";
})
