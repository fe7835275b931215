// The sequential provider in the provider contract suite
// (providers/contract_test.cpp), run by the bench_contract test binary.
// One member: a chain authenticates only the share that a member opens, so
// a tampered later share goes unnoticed while an earlier member answers
// (sequential_provider.hpp), and the suite's tampering flips the last byte.
// Failing over between members is tested in sequential_test.cpp.
#include <string>

#include "support/contract_targets.hpp"

TROUSSEAU_CONTRACT_TARGET("sequential", [] {
  return std::string(
      "{name: contract, type: sequential, member_timeout: 1s, members: ["
      "{name: only, delay: {distribution: constant, value: 1ms}}]}");
})
