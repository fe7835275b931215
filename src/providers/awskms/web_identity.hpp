// Internal to the credential chain: temporary credentials from STS
// AssumeRoleWithWebIdentity (the Query API over HTTPS, an XML answer).
#pragma once

#include <chrono>
#include <mutex>

#include "common/clock.hpp"
#include "common/waiter_queue.hpp"
#include "http/client.hpp"
#include "providers/awskms/credentials.hpp"

namespace trousseau::providers::awskms {

struct CredentialChain::WebIdentity {
  using Handler = asio::any_completion_handler<CredentialsSignature>;

  /// Credentials this close to expiry are no longer handed out. On the
  /// wall clock (ChainOptions::wall_now), like the expiry itself.
  static constexpr std::chrono::seconds kExpirySafety{10};

  explicit WebIdentity(const asio::any_io_executor& executor);
  static Result<std::unique_ptr<WebIdentity>> create(const asio::any_io_executor& executor,
                                                     const ChainOptions& options);
  std::string describe() const { return "web identity (role " + role_arn + ")"; }

  /// Serves cached credentials at once while they are valid (starting a
  /// background refresh within the margin, under this caller's deadline);
  /// otherwise queues the caller until STS answers, its deadline passes or
  /// it is cancelled. Any thread.
  void get(const std::shared_ptr<CredentialChain>& chain, http::Deadline deadline,
           Handler handler);
  void invalidate();

  asio::any_io_executor executor;
  ChainOptions options;
  std::string token_file, role_arn, session_name;
  http::Url sts_url;
  std::unique_ptr<http::Client> client;

 private:
  /// One AssumeRoleWithWebIdentity call within `deadline`; call with
  /// refreshing_ set.
  void refresh(const std::shared_ptr<CredentialChain>& chain, http::Deadline deadline);
  /// Serves or fails the waiters. A call that only ran out of time is tried
  /// again for the waiters that still have some, within the latest of
  /// their deadlines, and sets no hold-off.
  void refreshed(const std::shared_ptr<CredentialChain>& chain, Error error, CredentialsPtr fresh);

  /// Guards the members below. Also held around waiters_ (which locks on
  /// its own, inside it), so that a caller is queued only while a refresh
  /// is running.
  std::mutex mutex_;
  CredentialsPtr current_;
  bool refreshing_ = false;
  Error last_error_;
  Clock::time_point retry_after_{};
  /// Callers without valid credentials, each until STS answers, its
  /// deadline or its cancellation.
  WaiterQueue<CredentialsSignature> waiters_;
};

}  // namespace trousseau::providers::awskms
