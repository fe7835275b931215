// Calls one provider directly, with no engine, limiter or gRPC in between:
// the provider's own latency, against which the plugin's is compared.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "outcome.hpp"
#include "providers/provider.hpp"

namespace trousseau::bench::direct {

enum class Op { wrap, unwrap };

/// What each call of a phase does. Everything here is borrowed, and read
/// only, for the whole phase.
struct CallPlan {
  Op op = Op::wrap;
  ByteView context;  ///< the same share context on every call
  /// Unwrap only: what one wrap of `share` returned. Every unwrap opens it
  /// and must give back `share`.
  std::string_view key_version;
  ByteView wrapped;
  const SecretBytes* share = nullptr;
  std::chrono::milliseconds timeout{3000};  ///< each call's deadline, from its start
  std::string request_prefix;               ///< call i carries request id prefix + i
};

using PhaseResult = Outcome;

/// Makes `count` calls of `plan` to `provider`, keeping `concurrency` of
/// them outstanding: each call starts the next from its completion handler,
/// which runs on `executor` (a running io_context's), so nothing sleeps or
/// polls. A wrap wraps 32 fresh random bytes (drawn before its clock
/// starts). A failed call is counted by its code and the phase goes on; an
/// unwrap that returns other bytes than the share counts as `internal`.
/// Blocks until every call has completed; never call it from `executor`.
PhaseResult run_phase(providers::Provider& provider, const boost::asio::any_io_executor& executor,
                      const CallPlan& plan, std::size_t concurrency, std::uint64_t count);

/// One wrap of `share` under `context`, for the unwrap phases to open.
/// Blocks like run_phase().
Result<providers::WrapResult> wrap_once(providers::Provider& provider,
                                        const boost::asio::any_io_executor& executor,
                                        ByteView context, const SecretBytes& share,
                                        std::chrono::milliseconds timeout);

}  // namespace trousseau::bench::direct
