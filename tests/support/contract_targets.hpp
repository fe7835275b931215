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

// A name of its own per use (__COUNTER__), so that two targets can share a
// translation unit (a unity build).
#define TROUSSEAU_CONTRACT_TARGET_NAME2(n) trousseau_contract_target_registered_##n
#define TROUSSEAU_CONTRACT_TARGET_NAME(n) TROUSSEAU_CONTRACT_TARGET_NAME2(n)
#define TROUSSEAU_CONTRACT_TARGET(type, entry)                                        \
  namespace {                                                                         \
  const bool TROUSSEAU_CONTRACT_TARGET_NAME(__COUNTER__) =                            \
      ::trousseau::testkit::register_contract_target({(type), (entry)});              \
  }
