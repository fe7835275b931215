// The provider's Vault token: how it is obtained (auth:), kept alive
// (renew-self before its TTL ends) and replaced (re-login, or the token
// file re-read when it changes), and what happens when it dies.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.hpp"
#include "common/file_watch.hpp"
#include "common/waiter_queue.hpp"
#include "providers/vault/settings.hpp"
#include "providers/vault/vault_api.hpp"

namespace trousseau::providers::vault {

namespace asio = boost::asio;

using TokenSignature = void(Error, Token);
using GrantCallback = std::function<void(Error, Grant)>;

/// Obtains a token the way `auth` says, within `deadline`, and calls `done`
/// once (on the client's executor): `token` reads the token file (given
/// by the caller, already read) and asks lookup-self for its TTL; the
/// other methods read their secret or JWT file now and log in. Errors name
/// the method and Vault's refusal, never a secret.
void obtain_token(VaultClient& client, const AuthSettings& auth, Token from_file,
                  http::Deadline deadline, GrantCallback done);

/// Reads the token file of `auth` (method token).
Result<Token> read_token_file(const std::string& path);

/// The token every call uses.
///
///  1. Start: the factory obtains the first grant on a private io_context
///     and hands it to adopt(); a failure there (Vault down, a refused
///     login) leaves the session without a token, failed with the reason,
///     and the provider starts all the same: calls and probes fail, and a
///     later call logs in (or re-reads the file) again.
///  2. Renewal: a token with a TTL is renewed (auth/token/renew-self) at
///     2/3 of its TTL, on a Timer on Clock (tests move ManualTime). A renewal
///     that fails for a moment is tried again halfway to the expiry. When
///     renewal is refused (a token at its max TTL, or not renewable), the
///     login methods log in again; a token from a file is kept until it
///     expires.
///  3. Expiry: at the end of its TTL the token is dropped. The login
///     methods log in again; with a token file, the session fails with the
///     reason until the file changes.
///  4. A 403 on a call (refused()): the login methods drop the token and the
///     call logs in again and retries once; a token file is re-read first
///     if it changed. Otherwise lookup-self asks, in the background, whether
///     the token itself is dead (revoked): then the session fails as in 3;
///     if Vault still knows it, the 403 was its policy and only that call
///     fails. A renewal refused with 403 means the same.
///  5. Failures are logged once per reason (at error), recoveries once (at
///     info); calls fail with the reason, and no exception leaves here.
///
/// async_token completes on the handler's executor, never inline: at once
/// with the current token, else after the login it waits for (one at a
/// time, shared by every waiting caller), its deadline or its cancellation.
class Session : public std::enable_shared_from_this<Session> {
 public:
  struct Stats {
    std::uint64_t logins = 0;    ///< tokens obtained (login, or token file read)
    std::uint64_t renewals = 0;  ///< successful renew-self calls
    bool failed = false;
    std::string reason;  ///< the failure, when failed
  };

  /// Background work (renewals, re-logins after expiry) has no caller
  /// whose deadline it could use: it gets this budget, and never beyond the
  /// token's expiry.
  static constexpr std::chrono::seconds kBackgroundBudget{30};
  /// After a failed login, callers fail fast this long with its reason.
  static constexpr std::chrono::seconds kLoginHoldOff{5};

  /// `watch`: the token file's watch (method token), or null.
  Session(asio::any_io_executor executor, std::shared_ptr<VaultClient> client, AuthSettings auth,
          std::string provider, std::unique_ptr<FileWatch> watch, std::uint64_t loaded_generation);
  ~Session();

  /// Takes the first grant (or the reason there is none). Call once, before
  /// any other member.
  void adopt(Result<Grant> first);
  /// Cancels the timer; the session does no more background work.
  void stop();

  template <typename Token>
  auto async_token(http::Deadline deadline, Token&& token) {
    return asio::async_initiate<Token, TokenSignature>(
        [this](auto handler, http::Deadline d) { token_impl(d, std::move(handler)); }, token,
        deadline);
  }

  /// Vault answered 403 to a call made with `used`. Returns whether asking
  /// for a token again and retrying is worthwhile.
  bool refused(const vault::Token& used);

  Stats stats() const;
  const std::string& method() const { return auth_.method; }

 private:
  void token_impl(http::Deadline deadline, asio::any_completion_handler<TokenSignature> handler);
  /// Starts obtaining a token (logging_in_ set by the caller, under mutex_).
  void begin_login(http::Deadline deadline);
  void logged_in(Error error, Grant grant);
  /// Under mutex_: arms the timer for a grant obtained or renewed now.
  void schedule_locked(const Grant& grant);
  void arm_locked(Clock::time_point at);
  void on_timer();
  void renewed(Error error, Grant grant);
  void expired();
  /// Background lookup-self after a 403 with a token file's token.
  void check_token(vault::Token token);
  void checked(vault::Token token, Error error);
  /// Under mutex_: the token file's token is dead.
  void token_dead_locked(const std::string& why);
  /// Under mutex_: records a failure, logging it once per reason.
  void fail_locked(Error error);
  bool file_changed_locked() const;

  asio::any_io_executor executor_;
  asio::strand<asio::any_io_executor> strand_;
  std::shared_ptr<VaultClient> client_;
  const AuthSettings auth_;
  const std::string provider_;
  std::unique_ptr<FileWatch> watch_;

  mutable std::mutex mutex_;
  vault::Token token_;
  bool renewable_ = false;
  Clock::time_point renew_at_ = Clock::time_point::max();
  Clock::time_point expires_at_ = Clock::time_point::max();
  std::uint64_t loaded_generation_ = 0;
  bool logging_in_ = false;
  bool renewing_ = false;
  bool checking_ = false;  ///< a lookup-self after a 403 is running
  bool stopped_ = false;
  Error failure_;
  std::string logged_failure_;  ///< the reason last logged, so each is logged once
  Clock::time_point retry_after_{};
  Stats stats_;
  Timer timer_;
  std::uint64_t timer_epoch_ = 0;  ///< bumps on each arm: a stale wake-up does nothing
  WaiterQueue<TokenSignature> waiters_;
};

}  // namespace trousseau::providers::vault
