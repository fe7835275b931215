// AWS KMS in the provider contract suite: one moto_server for the whole
// binary, with one key, and moto's dummy credentials in the environment.
#include <cstdlib>
#include <string>

#include "moto.hpp"
#include "support/contract_targets.hpp"

TROUSSEAU_CONTRACT_TARGET("awskms", [] {
  using trousseau::testkit::MotoServer;
  static MotoServer moto;
  static const std::string arn = moto.create_key();
  MotoServer::export_credentials();
  return "{name: contract, type: awskms, region: " + std::string(MotoServer::kRegion) +
         ", key_id: " + arn + ", endpoint: " + moto.endpoint() + ", cluster_name: contract-test}";
})
