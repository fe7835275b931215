// Metrics: what the observers record shows up in the exposition, under the
// names and labels docs/metrics.md lists, and nothing else does.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/http_get.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/readiness.hpp"

namespace trousseau::telemetry {
namespace {

using namespace std::chrono_literals;
using testkit::sample;

Readiness two_providers(bool ready, const std::string& key_id) {
  Readiness r;
  r.ready = ready;
  r.key_id = key_id;
  r.threshold = 2;
  r.min_encrypt_slots = 2;
  r.slots = {{"a"}, {"b"}};
  ProviderState a;
  a.name = "a";
  a.healthy = true;
  a.inflight = 3;
  a.queued = 1;
  ProviderState b;
  b.name = "b";
  b.slot = 1;
  b.healthy = ready;
  b.breaker_open = !ready;
  r.providers = {a, b};
  return r;
}

TEST(Metrics, RequestsAreCountedByApiMethodAndCode) {
  Metrics m("1.2.3");
  m.answered(kms::Api::v2, kms::Method::encrypt, grpc::StatusCode::OK, 150us);
  m.answered(kms::Api::v2, kms::Method::encrypt, grpc::StatusCode::OK, 2600ms);
  m.answered(kms::Api::v1beta1, kms::Method::decrypt, grpc::StatusCode::INVALID_ARGUMENT, 1ms);
  const std::string text = m.scrape(two_providers(true, "k1"));
  EXPECT_EQ(sample(text, R"(trousseau_requests_total{api="v2",code="OK",method="Encrypt"})"), 2);
  EXPECT_EQ(sample(text, R"(trousseau_requests_total{api="v1beta1",code="INVALID_ARGUMENT",method="Decrypt"})"), 1);
  EXPECT_EQ(sample(text, R"(trousseau_requests_total{api="v2",code="UNAVAILABLE",method="Decrypt"})"), 0);
  // Buckets resolve 100 µs and seconds alike.
  EXPECT_EQ(sample(text, R"(trousseau_request_duration_seconds_bucket{api="v2",method="Encrypt",le="0.0001"})"), 0);
  EXPECT_EQ(sample(text, R"(trousseau_request_duration_seconds_bucket{api="v2",method="Encrypt",le="0.00025"})"), 1);
  EXPECT_EQ(sample(text, R"(trousseau_request_duration_seconds_bucket{api="v2",method="Encrypt",le="2.5"})"), 1);
  EXPECT_EQ(sample(text, R"(trousseau_request_duration_seconds_bucket{api="v2",method="Encrypt",le="3"})"), 2);
  EXPECT_EQ(sample(text, R"(trousseau_request_duration_seconds_count{api="v2",method="Encrypt"})"), 2);
  EXPECT_EQ(sample(text, R"(trousseau_build_info{version="1.2.3"})"), 1);
}

TEST(Metrics, ProviderCallsHedgesAndBadSharesArePerProvider) {
  Metrics m("v");
  auto a = m.provider_observer("a");
  auto b = m.provider_observer("b");
  a->call(quorum::CallKind::unwrap, quorum::CallOutcome::ok, 2ms);
  a->call(quorum::CallKind::unwrap, quorum::CallOutcome::cancelled, 9ms);
  b->call(quorum::CallKind::wrap, quorum::CallOutcome::deadline, 1s);
  b->call(quorum::CallKind::probe, quorum::CallOutcome::error, 3ms);
  a->hedge_started();
  b->hedge_won();
  b->bad_share();
  auto engine = m.engine_observer();
  engine->quorum(quorum::QuorumKind::decrypt, quorum::QuorumResult::ok);
  engine->quorum(quorum::QuorumKind::encrypt, quorum::QuorumResult::degraded);
  engine->forgery_refused();
  const std::string t = m.scrape(two_providers(true, "k1"));
  EXPECT_EQ(sample(t, R"(trousseau_provider_calls_total{operation="unwrap",outcome="ok",provider="a"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_provider_calls_total{operation="unwrap",outcome="cancelled",provider="a"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_provider_calls_total{operation="wrap",outcome="deadline",provider="b"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_provider_calls_total{operation="probe",outcome="error",provider="b"})"), 1);
  // A cancelled call says nothing of the provider's speed.
  EXPECT_EQ(sample(t, R"(trousseau_provider_call_duration_seconds_count{operation="unwrap",provider="a"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_hedges_started_total{provider="a"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_hedges_won_total{provider="b"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_bad_shares_total{provider="b"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_bad_shares_total{provider="a"})"), 0);
  EXPECT_EQ(sample(t, R"(trousseau_quorum_outcomes_total{operation="decrypt",outcome="ok"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_quorum_outcomes_total{operation="encrypt",outcome="degraded"})"), 1);
  EXPECT_EQ(sample(t, "trousseau_forgeries_refused_total"), 1);
}

TEST(Metrics, StateGaugesFollowEachScrapeAndForgetRemovedProviders) {
  Metrics m("v");
  std::string t = m.scrape(two_providers(false, "key-one"));
  EXPECT_EQ(sample(t, R"(trousseau_provider_healthy{provider="a"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_provider_healthy{provider="b"})"), 0);
  EXPECT_EQ(sample(t, R"(trousseau_provider_breaker_open{provider="b"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_provider_inflight_calls{provider="a"})"), 3);
  EXPECT_EQ(sample(t, R"(trousseau_provider_queued_calls{provider="a"})"), 1);
  EXPECT_EQ(sample(t, "trousseau_ready"), 0);
  const std::string first = Metrics::key_id_hash("key-one");
  EXPECT_EQ(first.size(), 16u);
  EXPECT_EQ(sample(t, "trousseau_key_id_info{key_id_hash=\"" + first + "\"}"), 1);
  EXPECT_EQ(sample(t, "trousseau_key_id_changes_total"), 0);

  Readiness after = two_providers(true, "key-two");
  after.providers.pop_back();  // a reload removed b
  t = m.scrape(after);
  EXPECT_EQ(sample(t, "trousseau_ready"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_provider_healthy{provider="b"})"), -1) << t;
  EXPECT_EQ(sample(t, "trousseau_key_id_info{key_id_hash=\"" + first + "\"}"), -1);
  EXPECT_EQ(sample(t, "trousseau_key_id_info{key_id_hash=\"" + Metrics::key_id_hash("key-two") + "\"}"), 1);
  EXPECT_EQ(sample(t, "trousseau_key_id_changes_total"), 1);
  // The key_id itself is never a label value.
  EXPECT_EQ(t.find("key-two"), std::string::npos);
}

TEST(Metrics, ReloadResultsAreCountedAndStamped) {
  Metrics m("v");
  m.config_loaded(true, std::chrono::system_clock::time_point(std::chrono::seconds(1000)));
  m.config_loaded(false, std::chrono::system_clock::time_point(std::chrono::seconds(2000)));
  const std::string t = m.scrape(two_providers(true, "k"));
  EXPECT_EQ(sample(t, R"(trousseau_config_reloads_total{result="success"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_config_reloads_total{result="failure"})"), 1);
  EXPECT_EQ(sample(t, "trousseau_config_last_reload_success"), 0);
  EXPECT_EQ(sample(t, "trousseau_config_last_reload_timestamp_seconds"), 2000);
}

TEST(Metrics, EveryFamilyOfTheDocsIsExposed) {
  Metrics m("v");
  auto bound = m.provider_observer("a");  // per-provider families have series once one is bound
  const std::string t = m.scrape(two_providers(true, "k"));
  for (const char* family :
       {"trousseau_requests_total", "trousseau_request_duration_seconds",
        "trousseau_provider_calls_total", "trousseau_provider_call_duration_seconds",
        "trousseau_quorum_outcomes_total", "trousseau_bad_shares_total",
        "trousseau_forgeries_refused_total", "trousseau_earlier_policy_reads_total",
        "trousseau_legacy_reads_total",
        "trousseau_hedges_started_total", "trousseau_hedges_won_total",
        "trousseau_provider_healthy", "trousseau_provider_breaker_open",
        "trousseau_provider_inflight_calls", "trousseau_provider_queued_calls",
        "trousseau_ready", "trousseau_key_id_info", "trousseau_key_id_changes_total",
        "trousseau_config_reloads_total", "trousseau_config_last_reload_success",
        "trousseau_config_last_reload_timestamp_seconds", "trousseau_build_info"}) {
    EXPECT_NE(t.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
}

TEST(Readiness, VerboseDocumentListsEveryProvider) {
  Readiness r = two_providers(false, "kid");
  r.reason = "b: down";
  r.providers[0].latency_mean_ms = 1.5;
  r.providers[0].latency_slow_ms = 4.0;
  r.providers[1].last_error = "connection refused";
  const auto doc = boost::json::parse(to_json(r)).as_object();
  EXPECT_FALSE(doc.at("ready").as_bool());
  EXPECT_EQ(doc.at("key_id").as_string(), "kid");
  EXPECT_EQ(doc.at("reason").as_string(), "b: down");
  EXPECT_EQ(doc.at("policy").at("threshold").as_int64(), 2);
  const auto& ps = doc.at("providers").as_array();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].at("name").as_string(), "a");
  EXPECT_EQ(ps[0].at("breaker").as_string(), "closed");
  EXPECT_DOUBLE_EQ(ps[0].at("latency_ms").at("mean").as_double(), 1.5);
  EXPECT_EQ(ps[0].at("inflight").as_int64(), 3);
  EXPECT_EQ(ps[1].at("breaker").as_string(), "open");
  EXPECT_TRUE(ps[1].at("latency_ms").is_null());
  EXPECT_EQ(ps[1].at("last_error").as_string(), "connection refused");
}

}  // namespace
}  // namespace trousseau::telemetry
