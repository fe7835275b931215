// An Engine over FakeProviders with a running io_context, and blocking
// helpers for tests and benchmarks.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "quorum/engine.hpp"
#include "common/clock.hpp"
#include "support/fake_provider.hpp"
#include "support/wait.hpp"

namespace trousseau::testkit {

struct PolicySpec {
  unsigned threshold = 1;
  unsigned min_encrypt_slots = 0;  ///< 0: number of slots
  config::DecryptStrategy decrypt = config::DecryptStrategy::hedged;
  std::vector<std::vector<std::string>> slots;
  std::chrono::milliseconds provider_timeout{1000};
  unsigned max_inflight = 64;
  unsigned max_queue = 1024;
  std::chrono::milliseconds encrypt_grace{250};
  std::chrono::milliseconds min_hedge_delay{2};
  std::string state_path;
  /// Where the engine writes its write state (state.json); its own thread when null.
  /// A test that never runs it sees what happens before the disk does.
  boost::asio::io_context* state_writer = nullptr;
  std::vector<config::EarlierPolicy> previous;
  /// `legacy:` (origin -> provider); each provider must be in a slot.
  config::LegacyConfig legacy;
  /// Tests run on ManualTime: nothing happens until they advance() it.
  /// Benchmarks measure real time and turn it off.
  bool manual_time = true;
};

/// A request started in the background: its result, and the (virtual)
/// time at which it answered.
template <typename T>
struct Pending {
  /// A move-only result behind a copyable handle; get() takes it (once).
  struct Slot {
    std::shared_ptr<std::future<Result<T>>> future;
    Result<T> get() const { return future->get(); }
  };
  Slot result;
  std::shared_ptr<std::atomic<Clock::rep>> answered_at;
  /// SecretBytes::live() as the answer arrived (the answer's own included).
  std::shared_ptr<std::atomic<std::size_t>> secrets_at_answer;

  bool ready() const {
    return result.future->wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  Clock::duration took(Clock::time_point since) const {
    return Clock::time_point(Clock::duration(answered_at->load())) - since;
  }
};

/// threads > 0: io threads run in the background (for races under TSan).
/// threads == 0: deterministic stepping. Nothing runs until the test calls
/// settle() or step(); settle() runs every ready handler until none is left,
/// so "what happens at this instant" is complete before time moves on.
/// The `threads` of a harness that runs no threads: the test steps it.
inline constexpr unsigned kStepping = 0;

class EngineHarness {
 public:
  explicit EngineHarness(const PolicySpec& spec, unsigned threads = 2);
  ~EngineHarness();

  quorum::Engine& engine() { return *engine_; }
  FakeProvider& fake(const std::string& name);
  quorum::ManagedProvider& managed(const std::string& name) { return *engine_->find(name); }
  boost::asio::io_context& io() { return io_; }

  /// The request id the next encrypt and decrypt carry.
  std::string request_id = "harness-request";

  Result<quorum::EncryptOutcome> encrypt(ByteView plaintext,
                                         std::chrono::milliseconds budget = std::chrono::seconds(2),
                                         envelope::Limits limits = {});
  Result<SecretBytes> decrypt(const envelope::Encoded& enc,
                              std::chrono::milliseconds budget = std::chrono::seconds(2));
  /// Starts a decrypt in the background.
  Pending<SecretBytes> decrypt_async(const envelope::Encoded& enc,
                                     std::chrono::milliseconds budget = std::chrono::seconds(2),
                                     quorum::Strand* strand = nullptr,
                                     boost::asio::cancellation_slot slot = {});
  /// A legacy (original Trousseau) decrypt, as v1beta1 sends it.
  Pending<SecretBytes> legacy_decrypt_async(ByteView ciphertext,
                                            std::chrono::milliseconds budget = std::chrono::seconds(2));
  Result<SecretBytes> legacy_decrypt(ByteView ciphertext,
                                     std::chrono::milliseconds budget = std::chrono::seconds(2));
  Pending<quorum::EncryptOutcome> encrypt_async(ByteView plaintext,
                                                std::chrono::milliseconds budget = std::chrono::seconds(2),
                                                envelope::Limits limits = {});
  /// Feeds every provider a probe result, as the health monitor would. Under
  /// manual time each probe takes exactly its scripted delay.
  void probe_all();

  /// Moves manual time forward (and settles, when stepping).
  void advance(Clock::duration by);
  /// Stepping mode: runs ready handlers until none is left.
  void settle();
  /// Stepping mode: advances `by` in `tick`s, settling after each.
  void step(Clock::duration by, Clock::duration tick = std::chrono::milliseconds(1));
  /// Waits (on state, see wait_until) until `p` has answered; false if it
  /// never does.
  template <typename T>
  bool wait(const Pending<T>& p) {
    if (stepping()) {
      settle();
      return p.ready();
    }
    return wait_until([&] { return p.ready(); });
  }
  bool stepping() const { return threads_.empty(); }

 private:
  std::optional<ManualTime> time_;  // first in, last out: outlives every timer
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::vector<FakeProvider*> fakes_;
  std::unique_ptr<quorum::Engine> engine_;
};

}  // namespace trousseau::testkit
