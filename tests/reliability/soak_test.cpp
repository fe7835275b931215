// The soak (docs/reliability.md): a 2-of-3 policy over a SoftHSM2 token,
// moto and the Vault double, each remote behind its own proxy, under many
// client threads. The suite's faults cycle over the two remotes one at a
// time, so the quorum stays reachable throughout: every request must be
// answered, and right. `scripts/soak` runs it for 10 minutes at 64 threads
// (TROUSSEAU_SOAK_SECONDS, TROUSSEAU_SOAK_THREADS); without them it makes
// one pass of the faults over each remote at 8 threads, which is what the
// meson test `reliability_soak_pass` does in CI, so that the soak keeps
// working.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>

#include "kms/client.hpp"
#include "providers/pkcs11/softhsm.hpp"
#include "reliability/load.hpp"
#include "reliability/remotes.hpp"
#include "support/running_server.hpp"
#include "support/tcp_proxy.hpp"
#include "support/wait.hpp"

namespace trousseau {
namespace {

using namespace std::chrono_literals;
using testkit::Load;
using testkit::Remote;
using testkit::TcpProxy;

/// Requests answered while each fault lasts, and in a row after it: counts.
constexpr std::uint64_t kPerPhase = 100;

long env_number(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

/// One remote KMS, its proxy and its name in the configuration.
struct Side {
  const char* name;
  std::unique_ptr<Remote> remote;
  std::unique_ptr<TcpProxy> proxy;
};

/// The faults of the fault suite a soak can cycle through: every one but
/// the kill (moto and the Vault double keep their keys in memory) and the
/// expiry (a dead Vault token stays dead until renewed, which is a test of
/// its own in the fault suite, not a cycle).
std::vector<testkit::FaultCase> soak_faults() {
  std::vector<testkit::FaultCase> out;
  for (const testkit::FaultCase& f : testkit::fault_cases()) {
    if (f.way != testkit::FaultCase::Way::kill && f.way != testkit::FaultCase::Way::expire) {
      out.push_back(f);
    }
  }
  return out;
}

TEST(Soak, FaultsCyclingOverTwoRemotesCostNoRequestAndLeakNothing) {
  const long seconds = env_number("TROUSSEAU_SOAK_SECONDS", 0);  // 0: one pass
  const int threads = static_cast<int>(env_number("TROUSSEAU_SOAK_THREADS", 8));
  std::vector<Side> sides;
  for (auto [kind, name] : {std::pair{Remote::Kind::aws, "aws"}, std::pair{Remote::Kind::vault, "vault"}}) {
    Side s{name, Remote::start(kind), nullptr};
    ASSERT_TRUE(s.remote->running()) << name;
    s.proxy = std::make_unique<TcpProxy>(s.remote->port());
    sides.push_back(std::move(s));
  }
  testkit::RunningServer server(
      "providers:\n"
      "  - " + testkit::SoftHsm::shared().provider_yaml("hsm") + "\n"
      "  - " + sides[0].remote->provider_entry("aws", *sides[0].proxy, "3s") + "\n"
      "  - " + sides[1].remote->provider_entry("vault", *sides[1].proxy, "3s") + "\n"
      "policy:\n"
      "  threshold: 2\n"
      "  min_encrypt_slots: 2\n"
      "  slots: [{providers: [hsm]}, {providers: [aws]}, {providers: [vault]}]\n"
      // Writes wait for every reachable slot (a remote that is out fails
      // within its 3 s timeout, the Kubernetes default deadline, as do
      // probes): moto and
      // the Vault double are single Python processes, whose queue under
      // 64 threads on a busy machine passes a second; a write that gave up
      // on them would be degraded, and key_id would never settle between
      // faults.
      "request:\n"
      "  encrypt_grace: 5s\n" +
      testkit::fast_health("3s"));
  ASSERT_TRUE(server.started());
  auto healthy = [&](const Side& s) { return server.server().engine()->find(s.name)->healthy(); };
  ASSERT_TRUE(testkit::wait_until([&] { return healthy(sides[0]) && healthy(sides[1]); }));
  kms::Client status_client(server.socket());
  auto key_id = [&] {
    v2::StatusResponse st;
    return status_client.status(st).ok() ? st.key_id() : std::string();
  };
  const std::string complete = key_id();  // of writes that reach all three slots
  auto plugin_fds = [&] {
    std::size_t proxied = 0;
    for (const Side& s : sides) proxied += s.proxy->open_sockets();
    return testkit::open_fds() - proxied;
  };

  Load load(server.socket(), threads, 10s);
  ASSERT_TRUE(load.succeed(kPerPhase)) << testkit::describe(load.codes());
  const std::vector<testkit::FaultCase> all = soak_faults();
  std::size_t cycles = 0;
  auto one_cycle = [&] {
    Side& side = sides[cycles % 2];
    const testkit::FaultCase& fault = all[(cycles / 2) % all.size()];
    testkit::begin_fault(fault, *side.remote, *side.proxy);
    EXPECT_TRUE(load.answer(kPerPhase)) << fault.name << " on " << side.name;
    EXPECT_TRUE(testkit::end_fault(fault, *side.remote, *side.proxy));
    // Back to complete writes before the other remote's turn: an envelope
    // written while this remote was out lives on the other two slots only,
    // and would need the remote that is about to fail. So: the remote
    // healthy and writes complete again; then every round trip in flight
    // until then (whose write may still end degraded) finished.
    EXPECT_TRUE(testkit::wait_until([&] { return healthy(side) && key_id() == complete; }))
        << side.name << " did not recover from " << fault.name;
    EXPECT_TRUE(load.all_began_after(std::chrono::steady_clock::now()));
    EXPECT_TRUE(testkit::wait_until([&] { return key_id() == complete; }));
    EXPECT_TRUE(load.succeed(kPerPhase)) << testkit::describe(load.codes());
    ++cycles;
    std::cout << "cycle " << cycles << ": " << fault.name << " on " << side.name << ", errors so far: "
              << testkit::describe(load.codes()) << std::endl;
  };
  const std::size_t pass = 2 * all.size();  // each fault once on each remote
  if (seconds > 0) {
    // A timed soak measures from the end of a first pass, once the load's
    // threads, channels and the allocator's arenas have settled.
    while (cycles < pass && !::testing::Test::HasFailure()) one_cycle();
  }
  const std::size_t fds_before = plugin_fds();
  const std::size_t rss_before = testkit::rss_kib();
  const auto start = std::chrono::steady_clock::now();
  const std::size_t first = cycles;
  while ((seconds > 0 ? std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds)
                      : cycles < pass) &&
         !::testing::Test::HasFailure()) {
    one_cycle();
  }
  const std::size_t fds_after = plugin_fds();
  const std::size_t rss_after = testkit::rss_kib();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  load.stop();

  EXPECT_EQ(load.wrong(), 0u) << "a wrong plaintext";
  // The quorum never depended on the faulty remote: every code is an
  // outage code at worst, and in practice OK (the docs record the count).
  for (const auto& [code, n] : load.codes()) {
    EXPECT_TRUE(testkit::outage_code(code)) << "code " << code << " seen " << n << " times";
  }
  EXPECT_LE(fds_after, fds_before + 16) << fds_before << " -> " << fds_after;
  if (seconds >= 60) {
    // Long enough for the allocator to have settled: the whole test
    // process, load threads and proxies included, grows by under 10%.
    EXPECT_LT(rss_after, rss_before + rss_before / 10) << rss_before << " -> " << rss_after << " KiB";
  }
  std::cout << "soak: " << std::chrono::duration_cast<std::chrono::seconds>(elapsed).count() << " s, "
            << threads << " threads, " << cycles - first << " fault cycles (after " << first
            << " to warm up), " << load.answered()
            << " round trips, " << load.ok() << " OK, errors: " << testkit::describe(load.codes())
            << ", wrong plaintexts: " << load.wrong() << ", fds " << fds_before << " -> " << fds_after
            << ", RSS " << rss_before << " -> " << rss_after << " KiB\n";
}

}  // namespace
}  // namespace trousseau
