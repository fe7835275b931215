// Google access tokens for Cloud KMS: a service-account key (an RS256 JWT
// grant, RFC 7523), workload identity federation (an external-account
// file's subject token exchanged at STS, RFC 8693), or the metadata server;
// cached and refreshed before they expire.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "http/client.hpp"
#include "providers/gcpkms/settings.hpp"
#include "providers/oauth2.hpp"
#include "providers/token_source.hpp"

namespace trousseau::providers::gcpkms {

namespace asio = boost::asio;
using WallClock = std::chrono::system_clock;

/// The scope of the tokens we ask for: Cloud KMS only where the grant
/// names one (service-account JWT); STS hands out cloud-platform tokens.
inline constexpr std::string_view kCloudKmsScope = "https://www.googleapis.com/auth/cloudkms";
inline constexpr std::string_view kCloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

/// A service-account key file ({"type": "service_account", …}).
struct ServiceAccountKey {
  std::string client_email;
  std::string private_key_id;
  std::string token_uri;  ///< "https://oauth2.googleapis.com/token" when absent
  SecretBytes private_key_pem;
};
/// failed_precondition naming the missing or wrong field, never a value of
/// the key.
Result<ServiceAccountKey> parse_service_account_key(ByteView json);

/// The assertion of the JWT bearer grant: header {alg RS256, typ JWT, kid:
/// private_key_id}; claims iss = client_email, scope = `scope`, aud =
/// token_uri, iat = `now`, exp = now + 1 hour.
Result<std::string> service_account_assertion(const ServiceAccountKey& key, std::string_view scope,
                                              WallClock::time_point now);

/// An external-account file ({"type": "external_account", …}) with a file
/// credential source, the only kind we read.
struct ExternalAccount {
  std::string audience;            ///< "//iam.googleapis.com/projects/…/providers/…"
  std::string subject_token_type;  ///< "urn:ietf:params:oauth:token-type:jwt", …
  std::string token_url;           ///< "https://sts.googleapis.com/v1/token" when absent
  std::string subject_token_file;  ///< credential_source.file
  /// credential_source.format: empty for "text", else the field of a JSON
  /// file that holds the token ("json", subject_token_field_name).
  std::string subject_token_field;
};
Result<ExternalAccount> parse_external_account(ByteView json);

/// What the token source needs, resolved from the settings and the
/// environment by the factory.
struct TokenOptions {
  AuthMethod method = AuthMethod::metadata_server;
  std::string credentials_file;
  std::string metadata_address;  ///< "http://169.254.169.254", no trailing slash
  /// Refresh this long before the token expires (in the background: callers
  /// keep using the cached token meanwhile).
  std::chrono::seconds refresh_margin{300};
  /// The wall clock of the service-account JWT's iat/exp claims.
  std::function<WallClock::time_point()> wall_now = [] { return WallClock::now(); };
};

/// Serves Google access tokens (providers/token_source.hpp: caching,
/// single-flight refresh, deadlines, cancellation). The key file, the
/// external-account file and its subject token are read again for each
/// refresh, so a rotated file (a Kubernetes Secret update, a projected
/// token) needs no restart.
class TokenSource final : public providers::TokenSource {
 public:
  /// Reads and checks the credentials file (start-up only): a missing or
  /// malformed file, a token endpoint that is not https, or impersonation
  /// (not supported) is failed_precondition.
  static Result<std::shared_ptr<TokenSource>> create(asio::any_io_executor executor,
                                                     std::shared_ptr<http::Client> client,
                                                     TokenOptions options);

 private:
  TokenSource(asio::any_io_executor executor, std::shared_ptr<http::Client> client,
              TokenOptions options);
  /// The request for the configured method; reads its files.
  Result<http::Request> token_request() const override;

  const TokenOptions options_;
};

}  // namespace trousseau::providers::gcpkms
