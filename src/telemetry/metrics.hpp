// The plugin's Prometheus metrics (docs/metrics.md), on prometheus-cpp's
// registry and families.
//
// The request path never looks a series up: every series a request may
// touch is created ahead (per provider when the provider is bound, per
// API x method x code at start), and recording is prometheus-cpp's atomic
// counter increment, or its histogram's observe (a mutex of that one series,
// never one shared by all requests). State gauges (health, breaker, queues,
// readiness, key_id) are set from the engine at each scrape.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "kms/request.hpp"
#include "quorum/observer.hpp"
#include "telemetry/readiness.hpp"

namespace trousseau::telemetry {

class Metrics final : public kms::RequestObserver {
 public:
  explicit Metrics(const std::string& version);
  ~Metrics() override;

  /// The observer bound to provider `name` (its series created now).
  std::shared_ptr<quorum::ProviderObserver> provider_observer(const std::string& name);
  std::shared_ptr<quorum::EngineObserver> engine_observer();

  void answered(kms::Api api, kms::Method method, grpc::StatusCode code,
                quorum::Clock::duration latency) override;

  /// A configuration reload (or the start) and its result.
  void config_loaded(bool ok, std::chrono::system_clock::time_point at);

  /// Sets the state gauges from `state`, then renders every family in the
  /// text exposition format. Called by the HTTP listener, per scrape.
  std::string scrape(const Readiness& state);

  prometheus::Registry& registry() { return *registry_; }

  /// The `key_id_hash` label: 16 hex digits of SHA-256(key_id).
  static std::string key_id_hash(const std::string& key_id);

 private:
  class ProviderSeries;
  class EngineSeries;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Counter>& provider_calls_;
  prometheus::Family<prometheus::Histogram>& provider_duration_;
  prometheus::Family<prometheus::Counter>& quorum_outcomes_;
  prometheus::Family<prometheus::Counter>& bad_shares_;
  prometheus::Family<prometheus::Counter>& forgeries_;
  prometheus::Family<prometheus::Counter>& earlier_reads_;
  prometheus::Family<prometheus::Counter>& legacy_reads_;
  prometheus::Family<prometheus::Counter>& hedges_started_;
  prometheus::Family<prometheus::Counter>& hedges_won_;
  prometheus::Family<prometheus::Gauge>& provider_healthy_;
  prometheus::Family<prometheus::Gauge>& breaker_open_;
  prometheus::Family<prometheus::Gauge>& inflight_;
  prometheus::Family<prometheus::Gauge>& queued_;
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Gauge>& key_id_info_;
  prometheus::Family<prometheus::Counter>& key_id_changes_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Gauge>& last_reload_success_;
  prometheus::Family<prometheus::Gauge>& last_reload_time_;
  prometheus::Family<prometheus::Gauge>& build_info_;

  /// [api][method][code], created at start.
  std::array<std::array<std::array<prometheus::Counter*, kms::kGrpcCodes>, kms::kMethods>,
             kms::kApis>
      request_counts_{};
  std::array<std::array<prometheus::Histogram*, kms::kMethods>, kms::kApis> request_times_{};
  std::shared_ptr<EngineSeries> engine_series_;

  std::mutex scrape_mutex_;  ///< scrapes only
  std::string key_id_;       ///< the key_id label in force
  std::set<std::string> gauge_providers_;
};

/// Histogram buckets in seconds: 100 µs to 10 s, about three per decade.
prometheus::Histogram::BucketBoundaries latency_buckets();

}  // namespace trousseau::telemetry
