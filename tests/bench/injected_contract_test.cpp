// The injected provider in the provider contract suite
// (providers/contract_test.cpp), which the bench_contract test binary runs
// over the bench provider types only: the production suite never links
// them. Real time, 1 ms per call.
#include <string>

#include "support/contract_targets.hpp"

TROUSSEAU_CONTRACT_TARGET("injected", [] {
  return std::string(
      "{name: contract, type: injected, delay: {distribution: lognormal, median: 1ms, p99: 3ms}}");
})
