// Background probes: one loop per provider, faster while it is unhealthy,
// jittered so that many plugins do not probe a KMS in step.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "quorum/engine.hpp"

namespace trousseau::quorum {

class HealthMonitor {
 public:
  HealthMonitor(Engine& engine, asio::io_context& io);
  ~HealthMonitor();

  /// Starts every loop; the first probe of each runs at once.
  void start();
  /// Cancels timers and in-flight probes. Safe to call twice.
  void stop();
  /// Waits (from a thread outside the io_context) until every provider has
  /// answered its first probe or `timeout` passed.
  void wait_first_round(Clock::duration timeout) const;

  struct Loop;

 private:
  Engine& engine_;
  asio::io_context& io_;
  std::vector<std::shared_ptr<Loop>> loops_;
};

}  // namespace trousseau::quorum
