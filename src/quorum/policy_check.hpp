// What an envelope may claim: the policy in force decides, not the header.
//
// The header is not authenticated until the key opens, and a valid GCM tag
// proves only that whoever built the envelope knew K. Someone who can write
// to etcd and get one KMS to wrap a share could otherwise pick k = 1, or
// put two providers of one policy slot into two envelope slots, and have
// Decrypt return a plaintext of their choosing. So, before any provider is
// asked, an envelope must be admitted by the current policy or by one of the
// earlier policies the operator still accepts (policy.previous):
//  1. its threshold is at least the policy's threshold;
//  2. every provider that an envelope slot names, and the policy knows,
//     belongs to one and the same policy slot;
//  3. no two envelope slots map to the same policy slot.
// Providers the admitting policy does not name are never asked. Policies are
// tried in order: the current one, then each earlier one.
#pragma once

#include <cstddef>
#include <vector>

#include "common/error.hpp"
#include "config/config.hpp"
#include "envelope/format.hpp"

namespace trousseau::quorum {

struct Admission {
  /// 0 for the current policy, i for policy.previous[i - 1].
  std::size_t policy = 0;
  /// Per envelope slot and ShareRef: does the admitting policy name it?
  std::vector<std::vector<bool>> named;
};

/// Admits `env` or explains, as Code::invalid_argument, why no accepted
/// policy does. Pure: no I/O, no provider is called.
Result<Admission> admit(const envelope::Envelope& env, const config::PolicyConfig& policy);

}  // namespace trousseau::quorum
