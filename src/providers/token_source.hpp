// A source of OAuth 2.0 bearer tokens for one provider: the cache, the
// single-flight refresh and its logging, shared by the providers whose
// identity services answer RFC 6749 token requests (azurekv: Entra and
// IMDS; gcpkms: Google OAuth, STS and the metadata server). Each provider
// says only how to ask for a token (token_request()).
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "http/client.hpp"
#include "providers/credential_cache.hpp"
#include "providers/oauth2.hpp"

namespace trousseau::providers {

namespace asio = boost::asio;

/// async_get completes on the handler's associated executor, never inline.
/// While the cached token is valid (more than kExpirySafety left) it
/// completes at once; within refresh_margin of expiry it also starts one
/// refresh in the background. Callers without a valid token wait for the
/// refresh, each until its own deadline or cancellation. A refresh runs
/// within the deadline of the caller that started it; the source has no
/// timeout of its own. token_request() runs for every refresh, so the
/// files it reads are read again each time (rotated files need no restart).
class TokenSource : public std::enable_shared_from_this<TokenSource> {
 public:
  static constexpr std::chrono::seconds kExpirySafety{30};
  /// After the service refused or failed (rather than the caller's budget
  /// running out), callers without a token fail fast this long. On Clock.
  static constexpr std::chrono::seconds kFailureHoldOff{5};

  virtual ~TokenSource() = default;
  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  template <typename Token>
  auto async_get(http::Deadline deadline, Token&& token) {
    return asio::async_initiate<Token, TokenSignature>(
        [this](auto handler, http::Deadline d) { get_impl(d, std::move(handler)); }, token,
        deadline);
  }

  /// The service refused `rejected` (401): forget it, unless a newer token
  /// has replaced it already.
  void invalidate(const TokenPtr& rejected);

  /// "client secret (tenant …, client …)", for logs and errors. No secret.
  const std::string& describe() const { return description_; }

 protected:
  /// `token_name` in messages and logs: "an Entra access token".
  TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
              std::string token_name, std::chrono::seconds refresh_margin);

  /// The request for one token (its body and Authorization header are
  /// credentials: mark it sensitive); reads its files. An error fails the
  /// refresh as the service's refusal would.
  virtual Result<http::Request> token_request() const = 0;

  std::shared_ptr<http::Client> client_;
  std::string description_;  ///< set by the subclass's create()
  std::string where_;        ///< the token endpoint's origin, for messages

 private:
  using Handler = asio::any_completion_handler<TokenSignature>;
  void get_impl(http::Deadline deadline, Handler handler);
  /// One token request within `deadline`, when the cache asks for it.
  void refresh(http::Deadline deadline);
  /// Logs, serves the waiters (CredentialCache::complete) and fetches again
  /// when the cache asks.
  void refreshed(Error error, TokenPtr fresh);

  const std::string token_name_;
  const std::chrono::seconds refresh_margin_;
  CredentialCache<TokenPtr> cache_;
};

}  // namespace trousseau::providers
