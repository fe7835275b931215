#include "common/error.hpp"

namespace trousseau {

std::string_view to_string(Code code) {
  switch (code) {
    case Code::ok: return "ok";
    case Code::invalid_argument: return "invalid_argument";
    case Code::integrity: return "integrity";
    case Code::unavailable: return "unavailable";
    case Code::deadline_exceeded: return "deadline_exceeded";
    case Code::cancelled: return "cancelled";
    case Code::resource_exhausted: return "resource_exhausted";
    case Code::failed_precondition: return "failed_precondition";
    case Code::permission_denied: return "permission_denied";
    case Code::internal: return "internal";
  }
  return "unknown";
}

Error Error::prefixed(std::string_view context) const {
  if (ok()) return *this;
  std::string m;
  m.reserve(context.size() + 2 + message_.size());
  m.append(context).append(": ").append(message_);
  return {code_, std::move(m)};
}

}  // namespace trousseau
