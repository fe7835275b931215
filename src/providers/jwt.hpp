// JSON Web Tokens (RFC 7519) signed RS256 (RFC 7518 §3.3), as identity
// services take them for client assertions: Microsoft Entra's certificate
// credential (azurekv) and Google's service-account grant (gcpkms).
#pragma once

#include <openssl/types.h>

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace trousseau::providers {

struct PrivateKeyFree {
  void operator()(EVP_PKEY* key) const;
};
/// An OpenSSL private key: freed (and so wiped by OpenSSL) with its owner.
using PrivateKey = std::unique_ptr<EVP_PKEY, PrivateKeyFree>;

/// The first unencrypted PEM private key in `pem` (PKCS#8 or PKCS#1),
/// which must be RSA. failed_precondition names `what` ("the certificate
/// file", "the service-account key") and the problem, never the key.
Result<PrivateKey> read_rsa_private_key(ByteView pem, std::string_view what);

/// base64url(header) "." base64url(claims) "." base64url(RS256 signature),
/// where header is {"alg":"RS256","typ":"JWT"} plus `extra_header` (x5t,
/// kid). internal when OpenSSL fails to sign.
Result<std::string> sign_jwt_rs256(EVP_PKEY& key, const boost::json::object& extra_header,
                                   const boost::json::object& claims);

}  // namespace trousseau::providers
