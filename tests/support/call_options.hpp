// CallOptions for provider calls that a test makes directly.
#pragma once

#include <chrono>

#include "providers/provider.hpp"

namespace trousseau::testkit {

/// A deadline `budget` from now and no lease.
inline providers::CallOptions within(Clock::duration budget = std::chrono::seconds(10)) {
  return {Clock::now() + budget, {}};
}

}  // namespace trousseau::testkit
