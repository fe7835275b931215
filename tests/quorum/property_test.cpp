// For random k <= n <= 8 and random failures, delays and garbage: decrypt
// succeeds exactly when k slots can give a true share, and never returns a
// wrong plaintext.
#include <gtest/gtest.h>

#include <random>

#include "support/engine_harness.hpp"

namespace trousseau::quorum {
namespace {

using namespace std::chrono_literals;
using testkit::Behaviour;
using testkit::EngineHarness;
using testkit::PolicySpec;

enum class Fate { fine, slow, error, hang, garbage };

TEST(QuorumProperty, DecryptSucceedsIffKSlotsCanAnswer) {
  std::mt19937 rng(0x7e57);
  for (int round = 0; round < 60; ++round) {
    const unsigned n = 1 + rng() % 8;
    const unsigned k = 1 + rng() % n;
    PolicySpec spec;
    spec.threshold = k;
    spec.provider_timeout = 80ms;
    spec.decrypt = rng() % 2 ? config::DecryptStrategy::hedged : config::DecryptStrategy::all;
    for (unsigned s = 0; s < n; ++s) {
      std::vector<std::string> slot{"p" + std::to_string(s) + "a"};
      if (rng() % 3 == 0) slot.push_back("p" + std::to_string(s) + "b");
      spec.slots.push_back(slot);
    }
    EngineHarness h(spec, 0);  // deterministic stepping on manual time
    Bytes seed(32);
    random_fill(seed);
    auto enc = h.encrypt(seed);
    ASSERT_TRUE(enc.ok()) << enc.error().message();

    unsigned answerable = 0;
    std::string story;
    for (const auto& slot : spec.slots) {
      bool can = false;
      for (const auto& name : slot) {
        const auto fate = static_cast<Fate>(rng() % 5);
        Behaviour b;
        switch (fate) {
          case Fate::fine: b.delay = std::chrono::milliseconds(rng() % 5); can = true; break;
          case Fate::slow: b.delay = std::chrono::milliseconds(10 + rng() % 40); can = true; break;
          case Fate::error: b.fail = Code::unavailable; break;
          case Fate::hang: b.hang = true; break;
          case Fate::garbage: b.garbage = true; break;
        }
        h.fake(name).script_unwrap(b);
        story += name + "=" + std::to_string(static_cast<int>(fate)) + " ";
      }
      answerable += can ? 1 : 0;
    }
    auto pending = h.decrypt_async(enc->encoded, 3s);
    for (int ms = 0; ms < 3000 && !pending.ready(); ++ms) h.advance(1ms);
    ASSERT_TRUE(pending.ready()) << "round " << round << ": no answer by the deadline";
    auto plain = pending.result.get();
    const bool expect_ok = answerable >= k;
    ASSERT_EQ(plain.ok(), expect_ok)
        << "round " << round << " k=" << k << " n=" << n << " answerable=" << answerable << " "
        << story << (plain.ok() ? "" : plain.error().message());
    if (plain.ok()) {
      ASSERT_TRUE(plain->equals(seed)) << "WRONG PLAINTEXT in round " << round;
    } else {
      EXPECT_NE(plain.error().code(), Code::ok);
    }
  }
}

}  // namespace
}  // namespace trousseau::quorum
