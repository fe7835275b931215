#include "telemetry/metrics.hpp"

#include <prometheus/text_serializer.h>

#include "common/bytes.hpp"
#include "kms/status_code_name.hpp"

namespace trousseau::telemetry {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

double seconds(quorum::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1.0,   2.5,    3.0,   5.0,  10.0};
}

/// One provider's series, bound once.
class Metrics::ProviderSeries final : public quorum::ProviderObserver {
 public:
  ProviderSeries(Metrics& m, const std::string& name) {
    for (std::size_t k = 0; k < quorum::kCallKinds; ++k) {
      const char* op = quorum::to_string(static_cast<quorum::CallKind>(k));
      for (std::size_t o = 0; o < quorum::kCallOutcomes; ++o) {
        calls_[k][o] = &m.provider_calls_.Add(
            {{"provider", name}, {"operation", op},
             {"outcome", quorum::to_string(static_cast<quorum::CallOutcome>(o))}});
      }
      times_[k] = &m.provider_duration_.Add({{"provider", name}, {"operation", op}},
                                            latency_buckets());
    }
    bad_share_ = &m.bad_shares_.Add({{"provider", name}});
    hedge_started_ = &m.hedges_started_.Add({{"provider", name}});
    hedge_won_ = &m.hedges_won_.Add({{"provider", name}});
  }

  void call(quorum::CallKind kind, quorum::CallOutcome outcome,
            quorum::Clock::duration latency) override {
    const auto k = static_cast<std::size_t>(kind);
    calls_[k][static_cast<std::size_t>(outcome)]->Increment();
    // Calls that never ran or were cut short say nothing of the KMS's speed.
    if (outcome != quorum::CallOutcome::cancelled && outcome != quorum::CallOutcome::rejected) {
      times_[k]->Observe(seconds(latency));
    }
  }
  void hedge_started() override { hedge_started_->Increment(); }
  void hedge_won() override { hedge_won_->Increment(); }
  void bad_share() override { bad_share_->Increment(); }

 private:
  std::array<std::array<prometheus::Counter*, quorum::kCallOutcomes>, quorum::kCallKinds> calls_{};
  std::array<prometheus::Histogram*, quorum::kCallKinds> times_{};
  prometheus::Counter* bad_share_;
  prometheus::Counter* hedge_started_;
  prometheus::Counter* hedge_won_;
};

class Metrics::EngineSeries final : public quorum::EngineObserver {
 public:
  explicit EngineSeries(Metrics& m) {
    const char* ops[] = {"encrypt", "decrypt"};
    const char* results[] = {"ok", "degraded", "failed"};
    for (std::size_t o = 0; o < 2; ++o) {
      for (std::size_t r = 0; r < 3; ++r) {
        outcomes_[o][r] = &m.quorum_outcomes_.Add({{"operation", ops[o]}, {"outcome", results[r]}});
      }
    }
    forgeries_ = &m.forgeries_.Add({});
    earlier_ = &m.earlier_reads_.Add({});
    legacy_ = &m.legacy_reads_.Add({});
  }
  void quorum(quorum::QuorumKind kind, quorum::QuorumResult result) override {
    outcomes_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(result)]->Increment();
  }
  void forgery_refused() override { forgeries_->Increment(); }
  void earlier_policy_read() override { earlier_->Increment(); }
  void legacy_read() override { legacy_->Increment(); }

 private:
  std::array<std::array<prometheus::Counter*, 3>, 2> outcomes_{};
  prometheus::Counter* forgeries_;
  prometheus::Counter* earlier_;
  prometheus::Counter* legacy_;
};

Metrics::Metrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(BuildCounter().Name("trousseau_requests_total")
                    .Help("KMS requests answered, by API version, method and gRPC code")
                    .Register(*registry_)),
      request_duration_(BuildHistogram().Name("trousseau_request_duration_seconds")
                            .Help("Time from receipt to answer of a KMS request")
                            .Register(*registry_)),
      provider_calls_(BuildCounter().Name("trousseau_provider_calls_total")
                          .Help("Calls to each KMS, by operation and outcome")
                          .Register(*registry_)),
      provider_duration_(BuildHistogram().Name("trousseau_provider_call_duration_seconds")
                             .Help("Duration of one call to a KMS, queueing excluded")
                             .Register(*registry_)),
      quorum_outcomes_(BuildCounter().Name("trousseau_quorum_outcomes_total")
                           .Help("Encrypt and Decrypt results of the quorum engine")
                           .Register(*registry_)),
      bad_shares_(BuildCounter().Name("trousseau_bad_shares_total")
                      .Help("Shares that disagreed with the verified key, by provider")
                      .Register(*registry_)),
      forgeries_(BuildCounter().Name("trousseau_forgeries_refused_total")
                     .Help("Envelopes refused because no accepted policy admits them")
                     .Register(*registry_)),
      earlier_reads_(BuildCounter().Name("trousseau_earlier_policy_reads_total")
                         .Help("Decrypts admitted only by an earlier policy")
                         .Register(*registry_)),
      legacy_reads_(BuildCounter().Name("trousseau_legacy_reads_total")
                        .Help("Ciphertexts of the original Trousseau opened (docs/migration.md)")
                        .Register(*registry_)),
      hedges_started_(BuildCounter().Name("trousseau_hedges_started_total")
                          .Help("Hedges started because a call to this provider was slow")
                          .Register(*registry_)),
      hedges_won_(BuildCounter().Name("trousseau_hedges_won_total")
                      .Help("Hedge calls to this provider whose share completed a Decrypt")
                      .Register(*registry_)),
      provider_healthy_(BuildGauge().Name("trousseau_provider_healthy")
                            .Help("1 when the provider is healthy")
                            .Register(*registry_)),
      breaker_open_(BuildGauge().Name("trousseau_provider_breaker_open")
                        .Help("1 while the provider's circuit breaker is open")
                        .Register(*registry_)),
      inflight_(BuildGauge().Name("trousseau_provider_inflight_calls")
                    .Help("Calls to the provider running now")
                    .Register(*registry_)),
      queued_(BuildGauge().Name("trousseau_provider_queued_calls")
                  .Help("Calls waiting for one of the provider's max_inflight slots")
                  .Register(*registry_)),
      ready_(BuildGauge().Name("trousseau_ready")
                 .Help("1 when W slots have a healthy provider (/readyz)")
                 .Register(*registry_)),
      key_id_info_(BuildGauge().Name("trousseau_key_id_info")
                       .Help("Always 1; key_id_hash is SHA-256(key_id) cut to 16 hex digits")
                       .Register(*registry_)),
      key_id_changes_(BuildCounter().Name("trousseau_key_id_changes_total")
                          .Help("key_id changes seen since start")
                          .Register(*registry_)),
      reloads_(BuildCounter().Name("trousseau_config_reloads_total")
                   .Help("Configuration reloads, by result")
                   .Register(*registry_)),
      last_reload_success_(BuildGauge().Name("trousseau_config_last_reload_success")
                               .Help("1 if the last configuration load succeeded")
                               .Register(*registry_)),
      last_reload_time_(BuildGauge().Name("trousseau_config_last_reload_timestamp_seconds")
                            .Help("Unix time of the last configuration load attempt")
                            .Register(*registry_)),
      build_info_(BuildGauge().Name("trousseau_build_info")
                      .Help("Always 1, labelled with the version")
                      .Register(*registry_)) {
  for (std::size_t a = 0; a < kms::kApis; ++a) {
    const char* api = kms::to_string(static_cast<kms::Api>(a));
    for (std::size_t m = 0; m < kms::kMethods; ++m) {
      const char* method = kms::to_string(static_cast<kms::Method>(m));
      for (std::size_t c = 0; c < kms::kGrpcCodes; ++c) {
        request_counts_[a][m][c] = &requests_.Add(
            {{"api", api}, {"method", method},
             {"code", kms::status_code_name(static_cast<grpc::StatusCode>(c))}});
      }
      request_times_[a][m] = &request_duration_.Add({{"api", api}, {"method", method}},
                                                    latency_buckets());
    }
  }
  engine_series_ = std::make_shared<EngineSeries>(*this);
  key_id_changes_.Add({});
  reloads_.Add({{"result", "success"}});
  reloads_.Add({{"result", "failure"}});
  last_reload_success_.Add({});
  last_reload_time_.Add({});
  ready_.Add({});
  build_info_.Add({{"version", version}}).Set(1);
}

Metrics::~Metrics() = default;

std::shared_ptr<quorum::ProviderObserver> Metrics::provider_observer(const std::string& name) {
  return std::make_shared<ProviderSeries>(*this, name);
}

std::shared_ptr<quorum::EngineObserver> Metrics::engine_observer() { return engine_series_; }

void Metrics::answered(kms::Api api, kms::Method method, grpc::StatusCode code,
                       quorum::Clock::duration latency) {
  const auto a = static_cast<std::size_t>(api);
  const auto m = static_cast<std::size_t>(method);
  auto c = static_cast<std::size_t>(code);
  if (c >= kms::kGrpcCodes) c = static_cast<std::size_t>(grpc::StatusCode::UNKNOWN);
  request_counts_[a][m][c]->Increment();
  request_times_[a][m]->Observe(seconds(latency));
}

void Metrics::config_loaded(bool ok, std::chrono::system_clock::time_point at) {
  reloads_.Add({{"result", ok ? "success" : "failure"}}).Increment();
  last_reload_success_.Add({}).Set(ok ? 1 : 0);
  last_reload_time_.Add({}).Set(std::chrono::duration<double>(at.time_since_epoch()).count());
}

std::string Metrics::key_id_hash(const std::string& key_id) {
  Bytes digest = sha256({as_bytes(key_id)});
  return hex_encode(ByteView(digest).first(8));
}

std::string Metrics::scrape(const Readiness& state) {
  {
    std::lock_guard lock(scrape_mutex_);
    std::set<std::string> now;
    for (const ProviderState& p : state.providers) {
      const prometheus::Labels l{{"provider", p.name}};
      provider_healthy_.Add(l).Set(p.healthy ? 1 : 0);
      breaker_open_.Add(l).Set(p.breaker_open ? 1 : 0);
      inflight_.Add(l).Set(p.inflight);
      queued_.Add(l).Set(p.queued);
      now.insert(p.name);
    }
    // A provider a reload removed leaves the state gauges (its counters stay:
    // they only ever grow).
    for (const std::string& gone : gauge_providers_) {
      if (now.contains(gone)) continue;
      const prometheus::Labels l{{"provider", gone}};
      provider_healthy_.Remove(&provider_healthy_.Add(l));
      breaker_open_.Remove(&breaker_open_.Add(l));
      inflight_.Remove(&inflight_.Add(l));
      queued_.Remove(&queued_.Add(l));
    }
    gauge_providers_ = std::move(now);
    ready_.Add({}).Set(state.ready ? 1 : 0);
    if (state.key_id != key_id_) {
      if (!key_id_.empty()) {
        key_id_info_.Remove(&key_id_info_.Add({{"key_id_hash", key_id_hash(key_id_)}}));
        key_id_changes_.Add({}).Increment();
      }
      key_id_ = state.key_id;
      key_id_info_.Add({{"key_id_hash", key_id_hash(key_id_)}}).Set(1);
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace trousseau::telemetry
