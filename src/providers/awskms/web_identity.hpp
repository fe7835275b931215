// Internal to the credential chain: temporary credentials from STS
// AssumeRoleWithWebIdentity (the Query API over HTTPS, an XML answer).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>

#include "common/clock.hpp"
#include "http/client.hpp"
#include "providers/awskms/credentials.hpp"

namespace trousseau::providers::awskms {

struct CredentialChain::WebIdentity {
  using Handler = asio::any_completion_handler<CredentialsSignature>;

  /// Credentials this close to expiry are no longer handed out. On the
  /// wall clock (ChainOptions::wall_now), like the expiry itself.
  static constexpr std::chrono::seconds kExpirySafety{10};

  static Result<std::unique_ptr<WebIdentity>> create(const asio::any_io_executor& executor,
                                                     const ChainOptions& options);
  std::string describe() const { return "web identity (role " + role_arn + ")"; }

  /// Serves cached credentials at once while they are valid (starting a
  /// background refresh within the margin, under this caller's deadline);
  /// otherwise queues the caller until STS answers, its deadline passes or
  /// it is cancelled.
  void get(const std::shared_ptr<CredentialChain>& chain, http::Deadline deadline,
           Handler handler);
  void invalidate();

  asio::any_io_executor executor;
  ChainOptions options;
  std::string token_file, role_arn, session_name;
  http::Url sts_url;
  std::unique_ptr<http::Client> client;

 private:
  struct Waiter {
    std::uint64_t id;
    Handler handler;
    std::shared_ptr<Timer> timer;
    http::Deadline deadline;
  };

  /// One AssumeRoleWithWebIdentity call within `deadline`; call with
  /// refreshing_ set.
  void refresh(const std::shared_ptr<CredentialChain>& chain, http::Deadline deadline);
  /// Serves or fails the waiters. A call that only ran out of time is tried
  /// again for the waiters that still have some, within the latest of
  /// their deadlines, and sets no hold-off.
  void refreshed(const std::shared_ptr<CredentialChain>& chain, Error error, CredentialsPtr fresh);
  /// Removes the waiter if it is still queued and completes it.
  void drop_waiter(std::uint64_t id, Error error);
  void complete(Handler handler, Error error, CredentialsPtr credentials);

  std::mutex mutex_;
  CredentialsPtr current_;
  bool refreshing_ = false;
  Error last_error_;
  Clock::time_point retry_after_{};
  /// A list: erasing from a vector would move-assign any_completion_handler,
  /// which recurses forever in Boost 1.81.
  std::list<Waiter> waiters_;
  std::uint64_t next_id_ = 0;
};

}  // namespace trousseau::providers::awskms
