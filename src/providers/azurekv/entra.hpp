// Microsoft Entra access tokens for Key Vault: client credentials (a secret
// or a certificate assertion), workload identity (a federated token) and
// managed identity (IMDS), cached and refreshed before they expire.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "http/client.hpp"
#include "providers/credential_cache.hpp"
#include "providers/azurekv/settings.hpp"

namespace trousseau::providers::azurekv {

namespace asio = boost::asio;
using WallClock = std::chrono::system_clock;

/// A bearer token. The value is a credential: never logged, wiped on free.
struct AccessToken {
  SecretBytes value;
  /// On Clock: when the token was asked for, plus its lifetime. Entra's
  /// answer gives the lifetime in seconds (`expires_in`), so nothing here
  /// depends on agreeing with Entra about the wall-clock time.
  Clock::time_point expires;
};

using TokenPtr = std::shared_ptr<const AccessToken>;
using TokenSignature = void(Error, TokenPtr);

/// What the token source needs, resolved from the settings and the
/// environment by the factory.
struct TokenOptions {
  AuthMethod method = AuthMethod::managed_identity;
  std::string tenant_id;
  std::string client_id;
  std::string client_secret_file;
  std::string client_certificate_file;
  std::string federated_token_file;
  std::string authority_host;  ///< "https://login.microsoftonline.com", no trailing slash
  std::string imds_endpoint;   ///< "http://169.254.169.254", no trailing slash
  std::string scope;           ///< "https://vault.azure.net/.default"
  /// Refresh this long before the token expires (in the background: callers
  /// keep using the cached token meanwhile).
  std::chrono::seconds refresh_margin{300};
  /// The wall clock of client assertions' iat/nbf/exp claims. Tests do not
  /// need to replace it: assertions are checked on real time.
  std::function<WallClock::time_point()> wall_now = [] { return WallClock::now(); };
};

/// The resource of a scope: "https://vault.azure.net/.default" gives
/// "https://vault.azure.net" (what IMDS and the challenge name).
std::string resource_of_scope(const std::string& scope);

/// Parses a token answer of Entra's v2 endpoint or of IMDS (`access_token`,
/// and `expires_in` as a number or, from IMDS, a string). `asked` is when
/// the request started; the token expires `expires_in` after it. Wipes
/// `body`.
Result<AccessToken> parse_token_response(std::string& body, Clock::time_point asked);

/// Maps a non-200 answer of the token endpoint or IMDS: `error` and the
/// AADSTS code from `error_description`, never the request's secrets.
/// 400/401 → permission_denied, 429 and 5xx → unavailable.
Error map_token_error(const http::Response& response);

/// Serves access tokens for one scope.
///
/// async_get completes on the handler's associated executor, never inline.
/// While the cached token is valid (more than kExpirySafety left) it
/// completes at once; within refresh_margin of expiry it also starts one
/// refresh in the background. Callers without a valid token wait for the
/// refresh, each until its own deadline or cancellation. A refresh runs
/// within the deadline of the caller that started it; the source has no
/// timeout of its own. Secret, certificate and federated token files are
/// read again for each refresh, so rotated files need no restart.
class TokenSource : public std::enable_shared_from_this<TokenSource> {
 public:
  static constexpr std::chrono::seconds kExpirySafety{30};
  /// After Entra refused or failed (rather than the caller's budget running
  /// out), callers without a token fail fast this long. On Clock.
  static constexpr std::chrono::seconds kFailureHoldOff{5};

  /// Checks what can be checked without I/O; reads no file.
  static Result<std::shared_ptr<TokenSource>> create(asio::any_io_executor executor,
                                                     std::shared_ptr<http::Client> client,
                                                     TokenOptions options);

  template <typename Token>
  auto async_get(http::Deadline deadline, Token&& token) {
    return asio::async_initiate<Token, TokenSignature>(
        [this](auto handler, http::Deadline d) { get_impl(d, std::move(handler)); }, token,
        deadline);
  }

  /// Key Vault refused `rejected` (401): forget it, unless a newer token
  /// has replaced it already.
  void invalidate(const TokenPtr& rejected);

  /// "client secret (tenant …, client …)", for logs and errors. No secret.
  const std::string& describe() const { return description_; }

 private:
  using Handler = asio::any_completion_handler<TokenSignature>;
  TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
              TokenOptions options);
  void get_impl(http::Deadline deadline, Handler handler);
  /// One token request within `deadline`, when the cache asks for it.
  void refresh(http::Deadline deadline);
  /// The request for the configured method; reads its files.
  Result<http::Request> token_request() const;
  /// Logs, serves the waiters (CredentialCache::complete) and fetches again
  /// when the cache asks.
  void refreshed(Error error, TokenPtr fresh);

  asio::any_io_executor executor_;
  std::shared_ptr<http::Client> client_;
  const TokenOptions options_;
  std::string description_;
  http::Url token_url_;

  CredentialCache<TokenPtr> cache_;
};

}  // namespace trousseau::providers::azurekv
