#include "kms/request.hpp"

namespace trousseau::kms {

grpc::Status to_grpc(const Error& e) {
  switch (e.code()) {
    case Code::ok: return grpc::Status::OK;
    case Code::invalid_argument:
    case Code::integrity: return {grpc::StatusCode::INVALID_ARGUMENT, e.message()};
    case Code::unavailable:
    case Code::permission_denied: return {grpc::StatusCode::UNAVAILABLE, e.message()};
    case Code::deadline_exceeded: return {grpc::StatusCode::DEADLINE_EXCEEDED, e.message()};
    case Code::cancelled: return {grpc::StatusCode::CANCELLED, e.message()};
    case Code::resource_exhausted: return {grpc::StatusCode::RESOURCE_EXHAUSTED, e.message()};
    case Code::failed_precondition: return {grpc::StatusCode::FAILED_PRECONDITION, e.message()};
    case Code::internal: return {grpc::StatusCode::INTERNAL, e.message()};
  }
  return {grpc::StatusCode::UNKNOWN, e.message()};
}

std::optional<quorum::Clock::time_point> request_deadline(const grpc::CallbackServerContext& ctx,
                                                          const config::RequestConfig& cfg) {
  using namespace std::chrono;
  const auto sys_now = system_clock::now();
  const auto steady_now = quorum::Clock::now();
  auto remaining = duration_cast<quorum::Clock::duration>(ctx.deadline() - sys_now);
  // No deadline shows up as a time point years away.
  if (ctx.deadline() >= system_clock::time_point::max() - hours(24 * 365) ||
      remaining > duration_cast<quorum::Clock::duration>(hours(1))) {
    remaining = cfg.default_deadline;
  }
  remaining -= cfg.safety_margin;
  if (remaining <= quorum::Clock::duration::zero()) return std::nullopt;
  return steady_now + remaining;
}

}  // namespace trousseau::kms
