// Internal to the credential chain: temporary credentials from STS
// AssumeRoleWithWebIdentity (the Query API over HTTPS, an XML answer).
#pragma once

#include <chrono>
#include <mutex>

#include "common/clock.hpp"
#include "http/client.hpp"
#include "providers/awskms/credentials.hpp"
#include "providers/credential_cache.hpp"

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
  /// One AssumeRoleWithWebIdentity call within `deadline`, when the cache
  /// asks for it.
  void refresh(const std::shared_ptr<CredentialChain>& chain, http::Deadline deadline);
  /// Logs, serves the waiters (CredentialCache::complete) and calls STS
  /// again when the cache asks.
  void refreshed(const std::shared_ptr<CredentialChain>& chain, Error error, CredentialsPtr fresh);

  /// Callers without valid credentials wait here until STS answers, their
  /// deadline or their cancellation.
  CredentialCache<CredentialsPtr> cache_;
};

}  // namespace trousseau::providers::awskms
