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
#include "support/fake_provider.hpp"

namespace trousseau::testing {

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
};

class EngineHarness {
 public:
  explicit EngineHarness(const PolicySpec& spec, unsigned threads = 2);
  ~EngineHarness();

  quorum::Engine& engine() { return *engine_; }
  FakeProvider& fake(const std::string& name);
  quorum::ManagedProvider& managed(const std::string& name) { return *engine_->find(name); }
  boost::asio::io_context& io() { return io_; }

  Result<quorum::EncryptOutcome> encrypt(ByteView plaintext,
                                         std::chrono::milliseconds budget = std::chrono::seconds(2),
                                         envelope::Limits limits = {});
  Result<SecretBytes> decrypt(const envelope::Encoded& enc,
                              std::chrono::milliseconds budget = std::chrono::seconds(2));
  /// Starts a decrypt and returns its future, for concurrency tests.
  std::future<Result<SecretBytes>> decrypt_async(const envelope::Encoded& enc,
                                                 std::chrono::milliseconds budget,
                                                 quorum::Strand strand,
                                                 boost::asio::cancellation_slot slot = {});
  /// Feeds every provider a probe result, as the health monitor would.
  void probe_all();

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::vector<FakeProvider*> fakes_;
  std::unique_ptr<quorum::Engine> engine_;
};

}  // namespace trousseau::testing
