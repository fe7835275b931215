#include "support/call_options.hpp"
#include "support/engine_harness.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_future.hpp>
#include <stdexcept>

namespace trousseau::testing {

namespace asio = boost::asio;

EngineHarness::EngineHarness(const PolicySpec& spec, unsigned threads) {
  config::Config cfg;
  cfg.policy.threshold = spec.threshold;
  cfg.policy.min_encrypt_slots =
      spec.min_encrypt_slots ? spec.min_encrypt_slots : static_cast<unsigned>(spec.slots.size());
  cfg.policy.decrypt = spec.decrypt;
  cfg.policy.slots = spec.slots;
  cfg.request.encrypt_grace = spec.encrypt_grace;
  cfg.request.min_hedge_delay = spec.min_hedge_delay;
  cfg.health.failure_threshold = 3;
  cfg.health.breaker_backoff = std::chrono::milliseconds(200);
  std::vector<std::unique_ptr<quorum::ManagedProvider>> managed;
  for (const auto& slot : spec.slots) {
    for (const auto& name : slot) {
      config::ProviderConfig pc;
      pc.name = name;
      pc.type = "fake";
      pc.timeout = spec.provider_timeout;
      pc.max_inflight = spec.max_inflight;
      pc.max_queue = spec.max_queue;
      cfg.providers.push_back(pc);
      auto fake = std::make_unique<FakeProvider>(name, io_.get_executor());
      fakes_.push_back(fake.get());
      managed.push_back(std::make_unique<quorum::ManagedProvider>(std::move(fake), pc, cfg.health,
                                                                  io_.get_executor()));
    }
  }
  engine_ = std::make_unique<quorum::Engine>(io_, cfg, std::move(managed), spec.state_path);
  work_.emplace(io_.get_executor());
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
}

EngineHarness::~EngineHarness() {
  // Let cancelled calls drain before the engine goes away.
  for (int i = 0; i < 200; ++i) {
    bool idle = true;
    for (FakeProvider* f : fakes_) idle = idle && f->in_flight() == 0;
    if (idle) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
}

FakeProvider& EngineHarness::fake(const std::string& name) {
  for (FakeProvider* f : fakes_) {
    if (f->name() == name) return *f;
  }
  throw std::out_of_range(name);
}

Result<quorum::EncryptOutcome> EngineHarness::encrypt(ByteView plaintext,
                                                      std::chrono::milliseconds budget,
                                                      envelope::Limits limits) {
  auto [err, out] = engine_
                        ->async_encrypt(engine_->make_strand(), plaintext, limits,
                                        quorum::Clock::now() + budget, asio::use_future)
                        .get();
  if (!err.ok()) return err;
  return std::move(out);
}

std::future<Result<SecretBytes>> EngineHarness::decrypt_async(const envelope::Encoded& enc,
                                                              std::chrono::milliseconds budget,
                                                              quorum::Strand strand,
                                                              asio::cancellation_slot slot) {
  auto promise = std::make_shared<std::promise<Result<SecretBytes>>>();
  auto fut = promise->get_future();
  engine_->async_decrypt(strand, enc.ciphertext, enc.annotations, quorum::Clock::now() + budget,
                         asio::bind_cancellation_slot(slot, [promise](Error e, SecretBytes p) {
                           if (e.ok()) {
                             promise->set_value(std::move(p));
                           } else {
                             promise->set_value(std::move(e));
                           }
                         }));
  return fut;
}

Result<SecretBytes> EngineHarness::decrypt(const envelope::Encoded& enc,
                                           std::chrono::milliseconds budget) {
  return decrypt_async(enc, budget, engine_->make_strand()).get();
}

void EngineHarness::probe_all() {
  std::vector<std::future<Error>> futures;
  std::vector<quorum::Clock::time_point> starts;
  for (FakeProvider* f : fakes_) {
    starts.push_back(quorum::Clock::now());
    futures.push_back(f->async_probe(::trousseau::testing::within(), asio::use_future));
  }
  for (std::size_t i = 0; i < fakes_.size(); ++i) {
    Error e = futures[i].get();
    engine_->find(fakes_[i]->name())->record_probe(e, quorum::Clock::now() - starts[i]);
  }
  engine_->on_health_changed();
}

}  // namespace trousseau::testing
