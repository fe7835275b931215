// Probe scheduling on manual time: every probe_interval (±10 % jitter) while
// healthy, every unhealthy_probe_interval while not, each within its budget.
#include "quorum/health_monitor.hpp"

#include <gtest/gtest.h>

#include "support/engine_harness.hpp"

namespace trousseau::quorum {
namespace {

using namespace std::chrono_literals;
using testkit::EngineHarness;
using testkit::PolicySpec;

PolicySpec one_slot() {
  PolicySpec spec;
  spec.threshold = 1;
  spec.slots = {{"a"}};
  return spec;
}

class Monitor : public ::testing::Test {
 protected:
  Monitor() : h(one_slot(), 0), monitor(h.engine(), h.io()) {}
  ~Monitor() override {
    monitor.stop();
    h.settle();
  }
  EngineHarness h;
  HealthMonitor monitor;  // defaults: 30 s healthy, 5 s unhealthy, 5 s budget
};

TEST_F(Monitor, ProbesAtStartThenEveryProbeInterval) {
  monitor.start();
  h.settle();
  EXPECT_EQ(h.fake("a").probes(), 1);
  EXPECT_TRUE(h.managed("a").health().probed);
  h.step(26s, 1s);  // below 30 s - 10 %
  EXPECT_EQ(h.fake("a").probes(), 1);
  h.step(8s, 1s);   // past 30 s + 10 %
  EXPECT_EQ(h.fake("a").probes(), 2);
}

TEST_F(Monitor, AnUnhealthyProviderIsProbedOftenAndRecoversWithinOneUnhealthyInterval) {
  h.fake("a").script_probe({.fail = Code::unavailable});
  monitor.start();
  h.settle();
  EXPECT_FALSE(h.managed("a").healthy());
  EXPECT_FALSE(h.engine().status().healthy);
  h.fake("a").script_probe({});
  h.step(5500ms, 100ms);  // one unhealthy interval, jitter included
  EXPECT_TRUE(h.managed("a").healthy());
  EXPECT_TRUE(h.engine().status().healthy);
  EXPECT_EQ(h.fake("a").probes(), 2);
}

TEST_F(Monitor, AHungProbeEndsAtItsBudgetAndCountsAsAFailure) {
  h.fake("a").script_probe({.hang = true});
  monitor.start();
  h.settle();
  EXPECT_TRUE(h.managed("a").healthy());  // still running
  h.step(4900ms, 100ms);
  EXPECT_TRUE(h.managed("a").healthy());  // the budget is health.probe_timeout, not the call timeout
  h.step(100ms, 100ms);
  EXPECT_FALSE(h.managed("a").healthy());
  // Either the provider gave up at the deadline it was handed, or the
  // monitor's own timer cut it: both at 5 s of provider time.
  const std::string why = h.managed("a").health().last_error;
  EXPECT_TRUE(why.find("deadline") != std::string::npos || why.find("5000ms") != std::string::npos)
      << why;
}

}  // namespace
}  // namespace trousseau::quorum
