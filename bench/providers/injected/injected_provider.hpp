// A key provider with latency drawn from a distribution, for benchmarks and
// tests of the quorum engine: never part of the `trousseau` binary.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "bench/providers/injected/call_log.hpp"
#include "bench/providers/injected/delay.hpp"
#include "bench/providers/injected/settings.hpp"
#include "providers/provider.hpp"

namespace trousseau::bench::injected {

namespace asio = boost::asio;

/// Wrap and unwrap answer after a drawn delay (Settings::delay) with real
/// AES-256-GCM under a key made for this instance, so a tampered or foreign
/// share fails as it would in production; a restarted provider opens
/// nothing it wrapped before. The Provider contract holds as for a remote
/// KMS:
///  - the handler runs on its own executor, never inline;
///  - a terminal cancellation of its slot completes the call at once with
///    Code::cancelled;
///  - a hung call, or one whose delay outlasts `options.deadline`, ends at
///    the deadline with Code::deadline_exceeded;
///  - `options.lease` is held until the delay is over;
///  - a key_version it does not own is refused at once (invalid_argument).
/// Probes answer at once: health is not what a bench measures.
class InjectedProvider final : public providers::Provider {
 public:
  /// Empties the record file, if any, so that a bad path fails at start-up.
  static Result<std::unique_ptr<InjectedProvider>> create(std::string name,
                                                          const Settings& settings,
                                                          asio::any_io_executor executor);

  InjectedProvider(std::string name, const Settings& settings, asio::any_io_executor executor);
  /// Writes the record (call_log.hpp). The plugin destroys its providers
  /// when it stops, on SIGTERM as on SIGINT.
  ~InjectedProvider() override;

  std::string key_identity() const override;
  bool owns_key_version(std::string_view key_version) const override;

 private:
  void wrap_impl(const providers::CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<providers::WrapSignature> handler) override;
  void unwrap_impl(const providers::CallOptions& options, ByteView context,
                   std::string_view key_version, ByteView wrapped,
                   asio::any_completion_handler<providers::UnwrapSignature> handler) override;
  void probe_impl(const providers::CallOptions& options,
                  asio::any_completion_handler<providers::ProbeSignature> handler) override;

  /// The next delay for `op`; nullopt when it hangs.
  std::optional<std::chrono::nanoseconds> draw(Op op);

  /// Waits a drawn delay, then calls `deliver(answer)`, or
  /// `deliver(cancelled)` when `slot` is cancelled first, or
  /// `deliver(deadline_exceeded)` at the deadline; on a strand of its own.
  template <typename Deliver>
  void answer_later(Op op, const providers::CallOptions& options, asio::cancellation_slot slot,
                    Error answer, Deliver deliver);

  const asio::any_io_executor executor_;
  const SecretBytes key_;
  const std::string identity_;
  const bool hang_;
  const bool hang_unwrap_;
  std::mutex mutex_;  // guards sampler_
  DelaySampler sampler_;
  CallLog log_;
};

}  // namespace trousseau::bench::injected
