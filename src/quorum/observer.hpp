// What the engine tells the layers above it while it works: provider calls,
// hedges, bad shares and quorum outcomes, for metrics (telemetry/) and for
// the request log (kms/).
//
// Every method runs on a request's strand or a probe's handler, on the hot
// path: implementations must be cheap and take no lock shared between
// requests. The engine never passes request data, keys or shares here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"

namespace trousseau::quorum {

enum class CallKind : unsigned char { wrap, unwrap, probe };
inline constexpr std::size_t kCallKinds = 3;

enum class CallOutcome : unsigned char {
  ok,
  error,      ///< unavailable, permission, internal: counts against health
  integrity,  ///< the data did not authenticate, or asked for a foreign key
  deadline,   ///< the provider's timeout or the request deadline
  cancelled,  ///< the request ended (quorum reached, caller gone)
  rejected,   ///< no call slot: the provider's limiter refused it
};
inline constexpr std::size_t kCallOutcomes = 6;

CallOutcome outcome_of(const Error& e);
const char* to_string(CallKind kind);
const char* to_string(CallOutcome outcome);

/// One per provider, bound to it for the provider's life (see
/// ManagedProvider::set_observer). Default: records nothing.
class ProviderObserver {
 public:
  virtual ~ProviderObserver() = default;
  /// `latency` from the call's start to its answer; zero when it never ran.
  virtual void call(CallKind, CallOutcome, Clock::duration /*latency*/) {}
  virtual void hedge_started() {}
  /// A share from a call started as a hedge completed a Decrypt.
  virtual void hedge_won() {}
  virtual void bad_share() {}

  /// Shared by every provider without an observer of its own.
  static ProviderObserver& none();
};

enum class QuorumKind : unsigned char { encrypt, decrypt };
enum class QuorumResult : unsigned char { ok, degraded, failed };

/// One per engine (see Engine::set_observer). Default: records nothing.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void quorum(QuorumKind, QuorumResult) {}
  virtual void forgery_refused() {}
  virtual void earlier_policy_read() {}
  virtual void legacy_read() {}

  static EngineObserver& none();
};

/// What one request did, for its log line: filled on the request's strand
/// before its handler runs, read by the handler. Provider names only.
struct RequestTrace {
  /// Encrypt: the providers that wrapped a share. Decrypt: the providers
  /// whose shares opened the envelope (the audit record of dual control).
  std::vector<std::string> served;
  unsigned hedges = 0;
};

}  // namespace trousseau::quorum
