#include "support/engine_harness.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <stdexcept>

#include "support/call_options.hpp"

namespace trousseau::testkit {

namespace asio = boost::asio;

EngineHarness::EngineHarness(const PolicySpec& spec, unsigned threads) {
  if (spec.manual_time) time_.emplace();
  config::Config cfg;
  cfg.policy.threshold = spec.threshold;
  cfg.policy.min_encrypt_slots =
      spec.min_encrypt_slots ? spec.min_encrypt_slots : static_cast<unsigned>(spec.slots.size());
  cfg.policy.decrypt = spec.decrypt;
  cfg.policy.slots = spec.slots;
  cfg.policy.previous = spec.previous;
  cfg.legacy = spec.legacy;
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
  std::optional<boost::asio::any_io_executor> writer;
  if (spec.state_writer != nullptr) writer = spec.state_writer->get_executor();
  engine_ = std::make_unique<quorum::Engine>(io_, cfg, std::move(managed), spec.state_path, writer);
  work_.emplace(io_.get_executor());
  if (threads == 0 && !time_) throw std::logic_error("stepping needs manual time");
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
}

EngineHarness::~EngineHarness() {
  // Let cancelled calls drain before the engine goes away.
  if (stepping()) settle();
  if (!stepping()) wait_until([&] {
    for (FakeProvider* f : fakes_) {
      if (f->in_flight() != 0) return false;
    }
    return true;
  });
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

namespace {
template <typename T>
std::pair<Pending<T>, std::function<void(Error, T)>> make_pending() {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  Pending<T> p{{std::make_shared<std::future<Result<T>>>(promise->get_future())},
               std::make_shared<std::atomic<Clock::rep>>(0),
               std::make_shared<std::atomic<std::size_t>>(0)};
  auto at = p.answered_at;
  auto live = p.secrets_at_answer;
  return {p, [promise, at, live](Error e, T value) {
            at->store(Clock::now().time_since_epoch().count());
            live->store(SecretBytes::live());
            if (e.ok()) {
              promise->set_value(std::move(value));
            } else {
              promise->set_value(std::move(e));
            }
            notify_waiters();
          }};
}
}  // namespace

void EngineHarness::advance(Clock::duration by) {
  if (!time_) throw std::logic_error("advance() needs manual time");
  time_->advance(by);
  notify_waiters();
  if (stepping()) settle();
}

void EngineHarness::settle() {
  // Asio's epoll reactor looks at its timers only when its timerfd fires,
  // so poll() alone may miss a timer that advance() made due. A marker
  // timer due now is collected in the same pass as every other due timer:
  // once it has run, and a further round runs nothing but a new marker,
  // nothing is left to happen at this instant.
  for (;;) {
    bool marked = false;
    Timer marker(io_);
    marker.expires_at(Clock::now());
    marker.async_wait([&](boost::system::error_code) { marked = true; });
    std::size_t ran = 0;
    while (!marked) ran += io_.run_one();
    ran += io_.poll();
    if (ran == 1) return;
  }
}

void EngineHarness::step(Clock::duration by, Clock::duration tick) {
  for (Clock::duration done{}; done < by; done += tick) advance(std::min(tick, by - done));
}

Pending<quorum::EncryptOutcome> EngineHarness::encrypt_async(ByteView plaintext,
                                                             std::chrono::milliseconds budget,
                                                             envelope::Limits limits) {
  auto [pending, done] = make_pending<quorum::EncryptOutcome>();
  engine_->async_encrypt(engine_->make_strand(), plaintext, limits,
                         {Clock::now() + budget, request_id}, std::move(done));
  if (stepping()) settle();  // it starts at this instant, not the next
  return pending;
}

Result<quorum::EncryptOutcome> EngineHarness::encrypt(ByteView plaintext,
                                                      std::chrono::milliseconds budget,
                                                      envelope::Limits limits) {
  auto p = encrypt_async(plaintext, budget, limits);
  if (!wait(p)) return Error(Code::internal, "encrypt did not answer (stepping: advance time)");
  return p.result.get();
}

Pending<SecretBytes> EngineHarness::decrypt_async(const envelope::Encoded& enc,
                                                  std::chrono::milliseconds budget,
                                                  quorum::Strand* strand,
                                                  asio::cancellation_slot slot) {
  auto [pending, done] = make_pending<SecretBytes>();
  engine_->async_decrypt(strand ? *strand : engine_->make_strand(), enc.ciphertext,
                         enc.annotations, {Clock::now() + budget, request_id},
                         asio::bind_cancellation_slot(slot, std::move(done)));
  if (stepping()) settle();  // it starts at this instant, not the next
  return pending;
}

Result<SecretBytes> EngineHarness::decrypt(const envelope::Encoded& enc,
                                           std::chrono::milliseconds budget) {
  auto p = decrypt_async(enc, budget);
  if (!wait(p)) return Error(Code::internal, "decrypt did not answer (stepping: advance time)");
  return p.result.get();
}

Pending<SecretBytes> EngineHarness::legacy_decrypt_async(ByteView ciphertext,
                                                         std::chrono::milliseconds budget) {
  auto [pending, done] = make_pending<SecretBytes>();
  engine_->async_legacy_decrypt(engine_->make_strand(), ciphertext,
                                {Clock::now() + budget, request_id}, std::move(done));
  if (stepping()) settle();
  return pending;
}

Result<SecretBytes> EngineHarness::legacy_decrypt(ByteView ciphertext,
                                                  std::chrono::milliseconds budget) {
  auto p = legacy_decrypt_async(ciphertext, budget);
  if (!wait(p)) return Error(Code::internal, "legacy decrypt did not answer (stepping: advance time)");
  return p.result.get();
}

void EngineHarness::probe_all() {
  for (FakeProvider* f : fakes_) {
    const Clock::time_point start = Clock::now();
    const int before = f->probes();
    auto promise = std::make_shared<std::promise<Error>>();
    std::future<Error> result = promise->get_future();
    f->async_probe(within(std::chrono::hours(1)), [promise](Error e) {
      promise->set_value(std::move(e));
      notify_waiters();
    });
    auto answered = [&] { return result.wait_for(std::chrono::seconds(0)) == std::future_status::ready; };
    const Behaviour b = f->probe_behaviour();
    if (stepping()) settle();
    if (time_ && !b.hang && b.delay.count() > 0) {
      // Exactly the scripted delay: advance only once the probe is waiting.
      if (!stepping()) wait_until([&] { return f->probes() > before && f->in_flight() > 0; });
      advance(b.delay);
    }
    if (stepping()) {
      settle();
    } else {
      wait_until(answered);
    }
    Error e = answered() ? result.get() : Error(Code::deadline_exceeded, "probe hung");
    engine_->find(f->name())->record_probe(e, Clock::now() - start);
  }
  engine_->on_health_changed();
}

}  // namespace trousseau::testkit
