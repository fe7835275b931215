// What the OAuth 2.0 token endpoints of the identity services (Microsoft
// Entra and IMDS; Google's OAuth, STS and metadata server) have in common:
// the bearer token and its lifetime, the token answer and error body
// (RFC 6749 §5), form encoding, and the credential files Kubernetes mounts.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/file.hpp"
#include "common/secret.hpp"
#include "http/message.hpp"

namespace trousseau::providers {

/// A bearer token. The value is a credential: never logged, wiped on free.
struct AccessToken {
  SecretBytes value;
  /// On Clock: when the token was asked for, plus its lifetime. The answer
  /// gives the lifetime in seconds (`expires_in`), so nothing here depends
  /// on agreeing with the service about the wall-clock time.
  Clock::time_point expires;
};

using TokenPtr = std::shared_ptr<const AccessToken>;
using TokenSignature = void(Error, TokenPtr);

/// The longest a token is held, whatever lifetime its answer claims.
inline constexpr std::chrono::seconds kMaxTokenLifetime{24 * 3600};

/// Parses a token answer (`access_token`, and `expires_in` as a number or,
/// from Azure's IMDS, a string). `asked` is when the request started; the
/// token expires `expires_in` after it, or kMaxTokenLifetime after it if
/// that is sooner. Wipes `body`.
Result<AccessToken> parse_token_response(std::string& body, Clock::time_point asked);

/// Maps a non-200 answer of a token endpoint: `error` and the start of
/// `error_description` (up to " Trace ID"), never the request's secrets.
/// 400/401/403 → permission_denied, 429, 5xx and the rest → unavailable.
Error map_token_error(const http::Response& response);

/// Percent-encodes all but RFC 3986's unreserved characters: safe in a
/// form body and in a query.
std::string form_encode(std::string_view value);

/// Kubernetes mounts secrets and projected tokens 0644 behind symlinks that
/// it swaps on rotation: read them as they are, again for each request.
inline constexpr SecretFileRules kMountedFileRules{.what = "credential file",
                                                   .max_size = 64 * 1024,
                                                   .follow_symlinks = true,
                                                   .private_mode = false,
                                                   .owner_check = false};

/// The file's content without trailing newlines and spaces, as a view into
/// `content`; unavailable when the read failed or nothing is left.
Result<std::string_view> trimmed_credential(const Result<SecretBytes>& content,
                                            const std::string& path);

}  // namespace trousseau::providers
