#include "quorum/policy_check.hpp"

#include <map>
#include <optional>
#include <string>

namespace trousseau::quorum {

namespace {

/// Why `env` does not meet one policy; empty when it does.
std::string check_one(const envelope::Envelope& env, unsigned threshold,
                      const std::vector<std::vector<std::string>>& slots,
                      std::vector<std::vector<bool>>& named) {
  if (env.threshold < threshold) {
    return "claims threshold " + std::to_string(env.threshold) + " but the policy requires " +
           std::to_string(threshold);
  }
  std::map<std::string, std::size_t, std::less<>> slot_of;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    for (const std::string& p : slots[i]) slot_of.emplace(p, i);
  }
  std::vector<std::optional<std::size_t>> taken_by(slots.size());
  named.assign(env.slots.size(), {});
  for (std::size_t s = 0; s < env.slots.size(); ++s) {
    std::optional<std::size_t> target;
    for (const envelope::ShareRef& ref : env.slots[s].wraps) {
      auto it = slot_of.find(ref.provider);
      named[s].push_back(it != slot_of.end());
      if (it == slot_of.end()) continue;
      if (target && *target != it->second) {
        return "envelope slot " + std::to_string(s) + " names providers of policy slots " +
               std::to_string(*target) + " and " + std::to_string(it->second);
      }
      target = it->second;
    }
    if (!target) continue;  // names no provider of this policy: unusable, harmless
    if (taken_by[*target]) {
      return "envelope slots " + std::to_string(*taken_by[*target]) + " and " +
             std::to_string(s) + " both stand for policy slot " + std::to_string(*target);
    }
    taken_by[*target] = s;
  }
  return {};
}

}  // namespace

Result<Admission> admit(const envelope::Envelope& env, const config::PolicyConfig& policy) {
  Admission a;
  std::string why = check_one(env, policy.threshold, policy.slots, a.named);
  if (why.empty()) return a;
  std::string all = "current policy: " + why;
  for (std::size_t i = 0; i < policy.previous.size(); ++i) {
    const config::EarlierPolicy& earlier = policy.previous[i];
    std::string reason = check_one(env, earlier.threshold, earlier.slots, a.named);
    if (reason.empty()) {
      a.policy = i + 1;
      return a;
    }
    all += "; previous[" + std::to_string(i) + "]: " + reason;
  }
  return invalid_argument("envelope refused, no accepted policy admits it (" + all + ")");
}

}  // namespace trousseau::quorum
