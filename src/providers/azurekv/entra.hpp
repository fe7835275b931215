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
#include "providers/oauth2.hpp"
#include "providers/token_source.hpp"
#include "providers/azurekv/settings.hpp"

namespace trousseau::providers::azurekv {

namespace asio = boost::asio;
using WallClock = std::chrono::system_clock;

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

/// Serves Entra access tokens for one scope (providers/token_source.hpp:
/// caching, single-flight refresh, deadlines, cancellation). Secret,
/// certificate and federated token files are read again for each refresh.
class TokenSource final : public providers::TokenSource {
 public:
  /// Checks what can be checked without I/O; reads no file.
  static Result<std::shared_ptr<TokenSource>> create(asio::any_io_executor executor,
                                                     std::shared_ptr<http::Client> client,
                                                     TokenOptions options);

 private:
  TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
              TokenOptions options);
  /// The request for the configured method; reads its files.
  Result<http::Request> token_request() const override;

  const TokenOptions options_;
  http::Url token_url_;
};

}  // namespace trousseau::providers::azurekv
