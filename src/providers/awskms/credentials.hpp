// AWS credentials and the chain that finds them, in the order the AWS SDKs
// use: environment, shared credentials file, web identity (IRSA / EKS Pod
// Identity via STS AssumeRoleWithWebIdentity).
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "common/file_watch.hpp"
#include "common/secret.hpp"
#include "http/message.hpp"

namespace trousseau::http {
class Client;
}

namespace trousseau::providers::awskms {

namespace asio = boost::asio;
using WallClock = std::chrono::system_clock;

/// One set of credentials. The access key id is an identifier (AWS logs it
/// too); the secret key and the session token are secrets.
struct Credentials {
  std::string access_key_id;
  SecretBytes secret_access_key;
  SecretBytes session_token;  ///< empty for long-term keys
  std::optional<WallClock::time_point> expiration;
  std::string source;  ///< e.g. "environment", for logs and errors
};

using CredentialsPtr = std::shared_ptr<const Credentials>;
using CredentialsSignature = void(Error, CredentialsPtr);

/// Where to look, as read from the environment and the configuration.
struct ChainOptions {
  std::map<std::string, std::string> env;  ///< a snapshot; see environment()
  std::string profile;         ///< configured `profile`: wins over AWS_PROFILE
  std::string region;          ///< for the default STS endpoint
  std::string sts_endpoint;    ///< override, e.g. http://127.0.0.1:PORT for moto
  std::string ca_file;
  bool allow_plain_http = false;
  /// Refresh expiring credentials this long before they expire.
  std::chrono::seconds refresh_margin{300};
  /// The wall clock that STS expiry times (absolute UTC) are compared with.
  /// Tests replace it with one that follows ManualTime; nothing else should.
  std::function<WallClock::time_point()> wall_now = [] { return WallClock::now(); };
};

/// The AWS_* variables of this process (and HOME), for ChainOptions::env.
std::map<std::string, std::string> environment();

/// Parses an AWS shared credentials file (INI) and returns the profile's
/// keys. Errors name the file and profile, never a value.
Result<Credentials> parse_credentials_file(std::string_view text, const std::string& profile,
                                           const std::string& path);

/// Parses an STS AssumeRoleWithWebIdentity XML response.
Result<Credentials> parse_assume_role_response(std::string_view xml);

/// Resolves the chain once, at start-up, and then serves credentials,
/// refreshing temporary ones before they expire.
///
///  1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN).
///  2. The shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
///     ~/.aws/credentials), the configured profile, else AWS_PROFILE, else
///     "default". Watched (common/file_watch.hpp): after a change the next
///     call reads it again; a file that no longer parses keeps the last
///     good credentials in use, and says so in the log.
///  3. AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME):
///     STS AssumeRoleWithWebIdentity, the token file re-read on each call.
///
/// async_get completes on the handler's associated executor, never inline.
/// While cached credentials are valid it completes at once, and a refresh
/// due within refresh_margin runs in the background (one at a time); only
/// callers holding no valid credentials wait for STS, each until its own
/// deadline or cancellation. An STS call runs within the deadline of the
/// caller that started it; the chain has no timeout of its own.
class CredentialChain : public std::enable_shared_from_this<CredentialChain> {
 public:
  /// Picks the source. Reads files but makes no network call.
  static Result<std::shared_ptr<CredentialChain>> create(asio::any_io_executor executor,
                                                         ChainOptions options);
  ~CredentialChain();

  template <typename Token>
  auto async_get(http::Deadline deadline, Token&& token) {
    return asio::async_initiate<Token, CredentialsSignature>(
        [this](auto handler, http::Deadline d) { get_impl(d, std::move(handler)); }, token,
        deadline);
  }

  /// After STS refused or failed (rather than merely outlasting the budget
  /// of the caller that started the call), callers without credentials fail
  /// fast this long, so that a broken role is not hammered. On Clock.
  static constexpr std::chrono::seconds kFailureHoldOff{5};

  /// "environment", "shared credentials file <path> profile <p>", "web identity <role>".
  const std::string& source() const { return source_; }

  /// Forget cached temporary credentials (e.g. after ExpiredTokenException).
  void invalidate();

 private:
  CredentialChain(asio::any_io_executor executor, ChainOptions options);
  void get_impl(http::Deadline deadline,
                asio::any_completion_handler<CredentialsSignature> handler);
  struct WebIdentity;

  /// Source 2: reads the file again when its watch moved.
  CredentialsPtr current_file_credentials();

  asio::any_io_executor executor_;
  ChainOptions options_;
  std::string source_;
  CredentialsPtr static_;               ///< sources 1 and 2 (2: under file_mutex_)
  std::unique_ptr<WebIdentity> web_;    ///< source 3
  // Source 2's file, watched.
  std::string file_path_;
  std::string file_profile_;
  std::unique_ptr<FileWatch> file_watch_;  ///< null: not source 2, or no inotify
  std::mutex file_mutex_;
  std::uint64_t file_generation_ = 0;      ///< under file_mutex_
};

}  // namespace trousseau::providers::awskms
