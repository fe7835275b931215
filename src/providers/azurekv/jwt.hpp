// The client assertion of Microsoft Entra's certificate credential: a JWT
// (RFC 7519/7523) signed RS256 with the certificate's private key, naming
// the certificate by its SHA-1 thumbprint (`x5t`).
#pragma once

#include <chrono>
#include <string>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace trousseau::providers::azurekv {

/// `pem` holds the certificate and its private key (in any order), as
/// Azure's tools write them. Claims: aud = `audience` (the token endpoint),
/// iss = sub = `client_id`, a random jti, nbf = iat = `now`, exp = now + 10
/// minutes. Errors name the problem, never key material.
Result<std::string> client_assertion(ByteView pem, const std::string& client_id,
                                     const std::string& audience,
                                     std::chrono::system_clock::time_point now);

}  // namespace trousseau::providers::azurekv
