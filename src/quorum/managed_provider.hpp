// One configured provider as the quorum engine sees it: the provider itself
// plus its limits, latency estimate and circuit breaker.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "providers/provider.hpp"
#include "quorum/latency.hpp"
#include "quorum/limiter.hpp"
#include "quorum/observer.hpp"

namespace trousseau::quorum {

using trousseau::Clock;

struct HealthSnapshot {
  bool healthy = false;
  bool probed = false;            ///< at least one probe finished
  /// When the newest successful probe started (its answer came `latency`
  /// later): what it proves about the provider is from then on.
  Clock::time_point good_probe_started = Clock::time_point::min();
  /// When the newest successful call or probe answered.
  Clock::time_point last_success = Clock::time_point::min();
  unsigned consecutive_failures = 0;
  std::string last_error;         ///< empty while healthy
};

/// Thread-safe. Health rules:
///  1. A successful call or probe closes the breaker and clears the count.
///  2. A failed probe opens the breaker at once, unless the provider
///     answered a call or probe successfully after that probe started: its
///     failure is older news (a probe retries for up to probe_timeout),
///     and the next probe decides.
///  3. A call that fails for a transient reason (unavailable, deadline,
///     permission) adds one; `failure_threshold` in a row open the breaker.
///     Integrity failures and cancellations say nothing about health.
///  4. While open, the provider is skipped, except for one trial call per
///     `breaker_backoff`.
class ManagedProvider {
 public:
  ManagedProvider(std::unique_ptr<providers::Provider> provider, const config::ProviderConfig& cfg,
                  const config::HealthConfig& health, asio::any_io_executor executor);

  providers::Provider& provider() { return *provider_; }
  const providers::Provider& provider() const { return *provider_; }
  const std::string& name() const { return provider_->name(); }
  Clock::duration timeout() const { return timeout_; }
  Limiter& limiter() { return limiter_; }
  LatencyEstimator& latency() { return latency_; }

  /// May a request call this provider now? Consumes the half-open trial.
  bool admit();
  /// Healthy, without consuming anything (for ranking and Status).
  bool healthy() const;
  HealthSnapshot health() const;

  void record_success(Clock::duration latency);
  void record_failure(const Error& error);
  void record_probe(const Error& error, Clock::duration latency);

  /// When a hedge should start for a call to this provider.
  Clock::duration hedge_delay(Clock::duration floor) const;

  /// Binds the provider's metrics. Only before the provider is shared with
  /// an engine or a health monitor: the observer is read without a lock.
  void set_observer(std::shared_ptr<ProviderObserver> observer) { observer_ = std::move(observer); }
  ProviderObserver& observer() const {
    return observer_ ? *observer_ : ProviderObserver::none();
  }

 private:
  void open_breaker(const Error& error);

  std::unique_ptr<providers::Provider> provider_;
  Clock::duration timeout_;
  unsigned failure_threshold_;
  Clock::duration backoff_;
  Limiter limiter_;
  LatencyEstimator latency_;
  mutable std::mutex mutex_;
  HealthSnapshot health_;
  Clock::time_point retry_at_{};
  std::shared_ptr<ProviderObserver> observer_;
};

}  // namespace trousseau::quorum
