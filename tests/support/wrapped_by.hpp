// Which providers hold a wrapped share in a KMS v2 Encrypt answer: how the
// whole-server tests tell a complete envelope from a degraded one.
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "envelope/format.hpp"
#include "kms_v2.pb.h"

namespace trousseau::testkit {

inline std::set<std::string> wrapped_by(const v2::EncryptResponse& response) {
  envelope::Annotations annotations;
  for (const auto& [k, v] : response.annotations()) annotations.emplace(k, to_bytes(v));
  auto env = envelope::parse(as_bytes(response.ciphertext()), annotations);
  EXPECT_TRUE(env.ok()) << env.error().message();
  std::set<std::string> out;
  if (!env.ok()) return out;
  for (const envelope::Slot& slot : env->slots) {
    for (const envelope::ShareRef& ref : slot.wraps) out.insert(ref.provider);
  }
  return out;
}

}  // namespace trousseau::testkit
