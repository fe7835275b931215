// The `injected` provider's configuration keys, read as the configuration
// loader reads them.
#include "bench/providers/injected/settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "providers/registry.hpp"
#include "support/provider_entry.hpp"

namespace trousseau::bench::injected {
namespace {

using namespace std::chrono_literals;

struct Parsed {
  std::unique_ptr<Settings> settings;
  std::vector<std::string> errors;
};

Parsed parse(const std::string& flow) {
  settings::Diagnostics diag;
  settings::Node node = testkit::provider_entry(flow, diag);
  (void)node.string("name");
  (void)node.string("type");
  Parsed p{parse_settings(node), {}};
  node.reject_unknown_keys();
  p.errors = diag.errors();
  return p;
}

::testing::AssertionResult has_error(const Parsed& p, const std::string& text) {
  for (const std::string& e : p.errors) {
    if (e.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  }
  auto r = ::testing::AssertionFailure() << "no error containing '" << text << "' in:";
  for (const std::string& e : p.errors) r << "\n  " << e;
  return r;
}

TEST(InjectedSettings, IsARegisteredProviderType) {
  EXPECT_NE(providers::Registry::instance().find("injected"), nullptr);
}

TEST(InjectedSettings, ReadsALognormalDelayWithOutliersSeedAndRecord) {
  Parsed p = parse(
      "{name: kms-b, type: injected, delay: {distribution: lognormal, median: 10ms, p99: 40ms},"
      " outliers: {rate: 0.01, delay: 1s}, seed: 7, record: /tmp/calls.tsv}");
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  EXPECT_EQ(p.settings->delay.distribution, DelaySpec::Distribution::lognormal);
  EXPECT_EQ(p.settings->delay.median, 10ms);
  EXPECT_EQ(p.settings->delay.p99, 40ms);
  EXPECT_DOUBLE_EQ(p.settings->delay.outlier_rate, 0.01);
  EXPECT_EQ(p.settings->delay.outlier_delay, 1s);
  EXPECT_FALSE(p.settings->hang);
  EXPECT_EQ(p.settings->seed, 7u);
  EXPECT_EQ(p.settings->record, "/tmp/calls.tsv");
}

TEST(InjectedSettings, ReadsAConstantDelayWithNoOptionalKeys) {
  Parsed p = parse("{name: a, type: injected, delay: {distribution: constant, value: 2ms}}");
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  EXPECT_EQ(p.settings->delay.distribution, DelaySpec::Distribution::constant);
  EXPECT_EQ(p.settings->delay.value, 2ms);
  EXPECT_EQ(p.settings->delay.outlier_rate, 0);
  EXPECT_FALSE(p.settings->seed.has_value());
  EXPECT_TRUE(p.settings->record.empty());
}

TEST(InjectedSettings, AHungProviderNeedsNoDelay) {
  Parsed p = parse("{name: a, type: injected, hang: true}");
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  EXPECT_TRUE(p.settings->hang);
}

TEST(InjectedSettings, ErrorsNameTheirFieldPaths) {
  EXPECT_TRUE(has_error(parse("{name: a, type: injected}"),
                        "providers[0].delay: is required (unless hang: true)"));
  EXPECT_TRUE(has_error(parse("{name: a, type: injected, delay: {distribution: gamma}}"),
                        "providers[0].delay.distribution: must be 'constant' or 'lognormal'"));
  EXPECT_TRUE(has_error(parse("{name: a, type: injected, delay: {distribution: constant}}"),
                        "providers[0].delay.value: is required"));
  EXPECT_TRUE(has_error(
      parse("{name: a, type: injected, delay: {distribution: lognormal, median: 40ms, p99: 10ms}}"),
      "providers[0].delay.p99: must be longer than median"));
  EXPECT_TRUE(
      has_error(parse("{name: a, type: injected, delay: {distribution: lognormal, median: 10ms}}"),
                "providers[0].delay.p99: is required"));
  EXPECT_TRUE(has_error(
      parse("{name: a, type: injected, delay: {distribution: constant, value: 1ms, median: 2ms}}"),
      "providers[0].delay.median: is for distribution: lognormal"));
  EXPECT_TRUE(
      has_error(parse("{name: a, type: injected, delay: {distribution: constant, value: 5}}"),
                "providers[0].delay.value: must be a duration"));
  EXPECT_TRUE(has_error(
      parse("{name: a, type: injected, delay: {distribution: constant, value: 1ms, jitter: 1ms}}"),
      "providers[0].delay.jitter: unknown field"));
  EXPECT_TRUE(
      has_error(parse("{name: a, type: injected, hang: true, outliers: {rate: 1.5, delay: 1s}}"),
                "providers[0].outliers.rate: must be a fraction between 0 and 1"));
  EXPECT_TRUE(
      has_error(parse("{name: a, type: injected, hang: true, outliers: {rate: often, delay: 1s}}"),
                "providers[0].outliers.rate: must be a fraction between 0 and 1"));
  EXPECT_TRUE(has_error(parse("{name: a, type: injected, hang: true, outliers: {rate: 0.1}}"),
                        "providers[0].outliers.delay: is required"));
  EXPECT_TRUE(has_error(parse("{name: a, type: injected, hang: maybe}"),
                        "providers[0].hang: must be true or false"));
  EXPECT_TRUE(has_error(parse("{name: a, type: injected, hang: true, seed: -1}"),
                        "providers[0].seed: must be between 0"));
  EXPECT_TRUE(has_error(parse("{name: a, type: injected, hang: true, record: calls.tsv}"),
                        "providers[0].record: must be an absolute path"));
  EXPECT_TRUE(has_error(parse("{name: a, type: injected, hang: true, deley: 1ms}"),
                        "providers[0].deley: unknown field"));
}

}  // namespace
}  // namespace trousseau::bench::injected
