#include "quorum/managed_provider.hpp"

#include "common/log.hpp"

namespace trousseau::quorum {

namespace {
bool counts_against_health(Code c) {
  return c == Code::unavailable || c == Code::deadline_exceeded ||
         c == Code::permission_denied || c == Code::failed_precondition || c == Code::internal;
}
}  // namespace

ManagedProvider::ManagedProvider(std::unique_ptr<providers::Provider> provider,
                                 const config::ProviderConfig& cfg,
                                 const config::HealthConfig& health,
                                 asio::any_io_executor executor)
    : provider_(std::move(provider)),
      timeout_(cfg.timeout),
      failure_threshold_(health.failure_threshold),
      backoff_(health.breaker_backoff),
      limiter_(provider_->name(), cfg.max_inflight, cfg.max_queue, std::move(executor)) {
  // Until the first probe answers, requests may try the provider.
  health_.healthy = true;
}

bool ManagedProvider::admit() {
  std::lock_guard lock(mutex_);
  if (health_.healthy) return true;
  const auto now = Clock::now();
  if (now < retry_at_) return false;
  retry_at_ = now + backoff_;  // one trial per backoff period
  return true;
}

bool ManagedProvider::healthy() const {
  std::lock_guard lock(mutex_);
  return health_.healthy;
}

HealthSnapshot ManagedProvider::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

void ManagedProvider::record_success(Clock::duration latency) {
  latency_.record(std::chrono::duration_cast<LatencyEstimator::Duration>(latency));
  std::lock_guard lock(mutex_);
  if (!health_.healthy) log::info("healthy again", {{"provider", name()}});
  health_.healthy = true;
  health_.last_success = Clock::now();
  health_.consecutive_failures = 0;
  health_.last_error.clear();
}

void ManagedProvider::open_breaker(const Error& error) {
  // mutex_ held
  if (health_.healthy) {
    log::warn("unhealthy", {{"provider", name()}, {"error", error.message()}});
  }
  health_.healthy = false;
  health_.last_error = error.message();
  retry_at_ = Clock::now() + backoff_;
}

void ManagedProvider::record_failure(const Error& error) {
  if (!counts_against_health(error.code())) return;
  std::lock_guard lock(mutex_);
  ++health_.consecutive_failures;
  health_.last_error = error.message();
  if (health_.consecutive_failures >= failure_threshold_) open_breaker(error);
}

void ManagedProvider::record_probe(const Error& error, Clock::duration latency) {
  observer().call(CallKind::probe, outcome_of(error), latency);
  {
    std::lock_guard lock(mutex_);
    health_.probed = true;
    if (!error.ok()) {
      if (Clock::now() - latency < health_.last_success) return;  // rule 2: stale
      ++health_.consecutive_failures;
      open_breaker(error);
      return;
    }
    health_.good_probe_started = Clock::now() - latency;
  }
  record_success(latency);
}

Clock::duration ManagedProvider::hedge_delay(Clock::duration floor) const {
  if (!latency_.known()) return std::max<Clock::duration>(floor, std::chrono::milliseconds(100));
  return std::max<Clock::duration>(floor, latency_.high_percentile());
}

}  // namespace trousseau::quorum
