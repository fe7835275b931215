// The targets of the provider contract suite (tests/providers/contract_test.cpp).
// Each provider's test folder registers its own, so that the suite never
// switches on a type:
//
//   // tests/providers/<name>/contract_target.cpp
//   TROUSSEAU_CONTRACT_TARGET("<name>", [] { return "{name: contract, type: <name>, ...}"; });
//
// and appends that file to `contract_sources` in its meson.build.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace trousseau::testkit {

struct ContractTarget {
  std::string type;  ///< the provider type, also the test's parameter
  /// One `providers:` entry as a YAML flow mapping, named "contract".
  /// Called once per test, on the test thread; starts whatever the provider
  /// needs (a token, a server) on first call, to live for the whole binary.
  std::function<std::string()> entry;
};

/// Adds `target`; called from static initializers. Returns true.
bool register_contract_target(ContractTarget target);
/// The registered types, sorted. Read by INSTANTIATE_TEST_SUITE_P, whose
/// generator runs in InitGoogleTest, after every static initializer.
std::vector<std::string> contract_target_types();
/// The target registered for `type`, or nullptr.
const ContractTarget* find_contract_target(const std::string& type);

}  // namespace trousseau::testkit

#define TROUSSEAU_CONTRACT_TARGET(type, entry)                              \
  namespace {                                                               \
  const bool trousseau_contract_target_registered =                         \
      ::trousseau::testkit::register_contract_target({(type), (entry)});    \
  }
