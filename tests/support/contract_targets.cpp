#include "support/contract_targets.hpp"

#include <map>
#include <stdexcept>

namespace trousseau::testkit {

namespace {
// Function-local, so that registration from any translation unit's static
// initializer finds it constructed.
std::map<std::string, ContractTarget>& targets() {
  static std::map<std::string, ContractTarget> t;
  return t;
}
}  // namespace

bool register_contract_target(ContractTarget target) {
  const std::string type = target.type;
  if (!targets().emplace(type, std::move(target)).second) {
    throw std::logic_error("contract target registered twice: " + type);
  }
  return true;
}

std::vector<std::string> contract_target_types() {
  std::vector<std::string> types;
  for (const auto& [type, target] : targets()) types.push_back(type);
  return types;
}

const ContractTarget* find_contract_target(const std::string& type) {
  auto it = targets().find(type);
  return it == targets().end() ? nullptr : &it->second;
}

}  // namespace trousseau::testkit
