#include "quorum/observer.hpp"

namespace trousseau::quorum {

CallOutcome outcome_of(const Error& e) {
  switch (e.code()) {
    case Code::ok: return CallOutcome::ok;
    case Code::integrity:
    case Code::invalid_argument: return CallOutcome::integrity;
    case Code::deadline_exceeded: return CallOutcome::deadline;
    case Code::cancelled: return CallOutcome::cancelled;
    case Code::resource_exhausted: return CallOutcome::rejected;
    default: return CallOutcome::error;
  }
}

const char* to_string(CallKind kind) {
  switch (kind) {
    case CallKind::wrap: return "wrap";
    case CallKind::unwrap: return "unwrap";
    case CallKind::probe: return "probe";
  }
  return "?";
}

const char* to_string(CallOutcome outcome) {
  switch (outcome) {
    case CallOutcome::ok: return "ok";
    case CallOutcome::error: return "error";
    case CallOutcome::integrity: return "integrity";
    case CallOutcome::deadline: return "deadline";
    case CallOutcome::cancelled: return "cancelled";
    case CallOutcome::rejected: return "rejected";
  }
  return "?";
}

ProviderObserver& ProviderObserver::none() {
  static ProviderObserver nothing;
  return nothing;
}

EngineObserver& EngineObserver::none() {
  static EngineObserver nothing;
  return nothing;
}

}  // namespace trousseau::quorum
