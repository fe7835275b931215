// CallOptions for provider calls that a test makes directly.
#pragma once

#include <chrono>
#include <string>

#include "providers/provider.hpp"

namespace trousseau::testkit {

/// A deadline `budget` from now, no lease, and the given request id.
inline providers::CallOptions within(Clock::duration budget = std::chrono::seconds(10),
                                     std::string request_id = {}) {
  return {Clock::now() + budget, {}, std::move(request_id)};
}

}  // namespace trousseau::testkit
