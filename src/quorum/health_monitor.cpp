#include "quorum/health_monitor.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <random>
#include <thread>

namespace trousseau::quorum {

struct HealthMonitor::Loop : std::enable_shared_from_this<Loop> {
  Loop(Engine& e, ManagedProvider* p, asio::io_context& io)
      : keep(e.weak_from_this().lock()), engine(e), provider(p), strand(make_caller_strand(io)),
        timer(strand), deadline(strand) {}

  /// A shared-owned engine (and so this provider) outlives the loop's last
  /// handler, even once the monitor is gone; null when not shared-owned.
  std::shared_ptr<const Engine> keep;
  Engine& engine;
  ManagedProvider* provider;
  Strand strand;
  Timer timer;
  Timer deadline;
  asio::cancellation_signal signal;
  bool stopping = false;
  bool probing = false;

  void probe() {
    if (stopping) return;
    probing = true;
    const auto started = Clock::now();
    const auto budget = engine.config().health.probe_timeout;
    deadline.expires_at(started + budget);
    deadline.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && self->probing) self->signal.emit(asio::cancellation_type::terminal);
    });
    provider->provider().async_probe(providers::CallOptions{started + budget, {}, {}},
                                     asio::bind_cancellation_slot(
        signal.slot(),
        asio::bind_executor(strand, [self = shared_from_this(), started, budget](Error e) {
          self->probing = false;
          self->deadline.cancel();
          if (self->stopping) return;
          if (e.code() == Code::cancelled) {
            e = Error(Code::deadline_exceeded, "probe got no answer within " +
                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                          budget).count()) + "ms");
          }
          self->provider->record_probe(e.prefixed("probe"), Clock::now() - started);
          self->engine.on_health_changed();
          self->schedule();
        })));
  }

  void schedule() {
    const auto& h = engine.config().health;
    const auto base = provider->healthy() ? h.probe_interval : h.unhealthy_probe_interval;
    // +-10% jitter.
    static thread_local std::mt19937 rng{std::random_device{}()};
    const auto span = base.count() / 5;
    const auto jitter = span > 0 ? static_cast<long>(rng() % (span + 1)) - span / 2 : 0;
    timer.expires_after(base + std::chrono::milliseconds(jitter));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->probe();
    });
  }
};

HealthMonitor::HealthMonitor(Engine& engine, asio::io_context& io) : engine_(engine), io_(io) {
  for (ManagedProvider* p : engine.providers()) {
    loops_.push_back(std::make_shared<Loop>(engine, p, io));
  }
}

HealthMonitor::~HealthMonitor() { stop(); }

void HealthMonitor::start() {
  for (auto& loop : loops_) asio::post(loop->strand, [loop] { loop->probe(); });
}

void HealthMonitor::stop() {
  for (auto& loop : loops_) {
    asio::post(loop->strand, [loop] {
      loop->stopping = true;
      loop->timer.cancel();
      loop->deadline.cancel();
      if (loop->probing) loop->signal.emit(asio::cancellation_type::terminal);
    });
  }
}

void HealthMonitor::wait_first_round(Clock::duration timeout) const {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    bool all = true;
    for (const auto& loop : loops_) all = all && loop->provider->health().probed;
    if (all) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace trousseau::quorum
