// The original Trousseau's serial failover, imitated for comparison with
// the quorum engine: used alone in a 1-of-1 policy it answers as the old
// plugin did. Benchmarks only; never part of the `trousseau` binary.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <vector>

#include "bench/providers/injected/injected_provider.hpp"
#include "bench/providers/sequential/settings.hpp"
#include "providers/provider.hpp"

namespace trousseau::bench::sequential {

namespace asio = boost::asio;

/// A chain of injected providers (its members):
///  1. Wrap wraps under every member, one after the other, each within
///     `member_timeout` (and the call's deadline), and stores every result
///     (shares.hpp): a member that failed keeps its place with an empty
///     share. The wrap fails only when no member wrapped.
///  2. Unwrap asks the members in order, each within `member_timeout`,
///     moving to the next on an error or when that time is up, and answers
///     with the first share a member opens. A member is asked even for an
///     empty share: a hung one costs `member_timeout` on every call, as a
///     KMS that is down did in serial failover. Only the share that opens
///     is authenticated: a tampered later share goes unnoticed.
///  3. The call's request_id reaches every member call (their records).
///  4. Cancellation cancels the member call in flight and completes with
///     Code::cancelled; past `options.deadline` no member is asked and the
///     call completes with Code::deadline_exceeded.
///  5. Probes answer at once, like the members'.
class SequentialProvider final : public providers::Provider {
 public:
  /// Creates the members (their record files emptied); errors name them.
  static Result<std::unique_ptr<SequentialProvider>> create(std::string name,
                                                            const Settings& settings,
                                                            asio::any_io_executor executor);

  SequentialProvider(std::string name,
                     std::vector<std::unique_ptr<injected::InjectedProvider>> members,
                     Clock::duration member_timeout, asio::any_io_executor executor);

  std::string key_identity() const override;
  bool owns_key_version(std::string_view key_version) const override;

 private:
  class Walk;
  class WrapWalk;
  class UnwrapWalk;

  void wrap_impl(const providers::CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<providers::WrapSignature> handler) override;
  void unwrap_impl(const providers::CallOptions& options, ByteView context,
                   std::string_view key_version, ByteView wrapped,
                   asio::any_completion_handler<providers::UnwrapSignature> handler) override;
  void probe_impl(const providers::CallOptions& options,
                  asio::any_completion_handler<providers::ProbeSignature> handler) override;

  const std::vector<std::unique_ptr<injected::InjectedProvider>> members_;
  const Clock::duration member_timeout_;
  const asio::any_io_executor executor_;
  const std::string identity_;
};

}  // namespace trousseau::bench::sequential
