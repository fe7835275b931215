#include "kms/request.hpp"

#include "common/log.hpp"
#include "common/text.hpp"
#include "kms/status_code_name.hpp"

namespace trousseau::kms {

const char* to_string(Api api) {
  switch (api) {
    case Api::v2: return "v2";
    case Api::v1beta1: return "v1beta1";
    case Api::sops: return "sops";
  }
  return "?";
}

const char* to_string(Method method) {
  switch (method) {
    case Method::status: return "Status";
    case Method::version: return "Version";
    case Method::encrypt: return "Encrypt";
    case Method::decrypt: return "Decrypt";
  }
  return "?";
}

RequestObserver& RequestObserver::none() {
  static RequestObserver nothing;
  return nothing;
}

void RequestLog::answered(const grpc::Status& status, const quorum::RequestTrace* trace,
                          std::string_view key_id) {
  const auto latency = quorum::Clock::now() - started_;
  observer_.answered(api_, method_, status.error_code(), latency);
  const std::string rpc = std::string(to_string(api_)) + "." + to_string(method_);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  const std::string served = trace ? join(trace->served, ",") : std::string();
  const log::Level level = status.ok() ? log::Level::info : log::Level::warn;
  if (log::enabled(level)) {
    log::write(level, "request",
               {{"rpc", rpc},
                {"uid", uid_},
                {"code", status_code_name(status.error_code())},
                {"latency_us", micros},
                {"providers", served},
                {"hedges", trace ? trace->hedges : 0u},
                {"key_id", key_id},
                {"error", status.error_message()}});
  }
  if (method_ == Method::decrypt && status.ok() && trace) {
    // Evidence of dual control: whose shares opened this envelope.
    log::info("audit: envelope opened",
              {{"audit", true}, {"rpc", rpc}, {"uid", uid_}, {"opened_by", served},
               {"shares", trace->served.size()}});
  }
}

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

Admitted admit(ServiceContext& context, grpc::CallbackServerContext* ctx, RequestLog log) {
  std::shared_ptr<quorum::Engine> engine = context.engines.get();
  auto deadline = request_deadline(*ctx, engine->config().request);
  if (!deadline) {
    return {.answered = finish_now(context.inflight, log, {grpc::StatusCode::DEADLINE_EXCEEDED, "no time left"})};
  }
  if (!context.inflight.enter()) return {.answered = finish_now(context.inflight, log, kDraining)};
  quorum::Strand strand = engine->make_strand();
  auto* reactor =
      new EngineReactor(std::move(engine), std::move(strand), context.inflight, std::move(log));
  return {.reactor = reactor, .deadline = *deadline};
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
