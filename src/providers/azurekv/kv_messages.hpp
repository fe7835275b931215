// The JSON of the Key Vault REST API (api-version kApiVersion): key
// bundles, key operation requests and results, and error bodies.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/base64url.hpp"
#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "http/message.hpp"

namespace trousseau::providers::azurekv {

/// The GA REST version we speak (documented for wrapkey, unwrapkey,
/// encrypt, decrypt and get key).
inline constexpr std::string_view kApiVersion = "7.4";

/// What GET /keys/{name} says about the current version.
struct KeyBundle {
  std::string kid;  ///< "https://<vault>/keys/<name>/<version>"
  std::string kty;  ///< "RSA", "RSA-HSM", "oct", "oct-HSM", …
  bool enabled = true;
  bool can_wrap = true;    ///< key_ops lists what our algorithm needs (wrapKey or encrypt)
  bool can_unwrap = true;  ///< … and its inverse
};

/// `ops`: the operation pair the algorithm uses ("wrapKey"/"unwrapKey" or
/// "encrypt"/"decrypt"), checked against key_ops.
Result<KeyBundle> parse_key_bundle(std::string_view body, std::string_view wrap_op,
                                   std::string_view unwrap_op);

/// {"alg": …, "value": b64url(value)[, "aad": …][, "iv": …, "tag": …]}.
/// The body carries key material when `value` is a plaintext: the caller
/// marks the request sensitive.
std::string operation_request(std::string_view alg, ByteView value, ByteView aad = {},
                              ByteView iv = {}, ByteView tag = {});

/// A key operation result: `kid` and `value` (with `iv` and `tag` for
/// AES-GCM encrypt). Wipes `body`.
struct OperationResult {
  std::string kid;
  SecretBytes value;
  Bytes iv, tag;
};
Result<OperationResult> parse_operation_result(std::string& body);

/// The Key Vault error body {"error": {"code", "message", "innerError": {"code"}}}.
struct KvError {
  std::string code;     ///< "BadParameter", "Forbidden", …
  std::string inner;    ///< innerError.code, e.g. "KeyDisabled"
  std::string message;  ///< at most 300 bytes of the service's text
};
KvError parse_kv_error(std::string_view body);

/// Maps a non-200 Key Vault answer of `operation`:
///  - 401, 403 → permission_denied (403 names innerError, e.g. KeyDisabled);
///  - 400 → integrity for an unwrap (`opening`: the data did not decrypt
///    under the key), else invalid_argument;
///  - 404 → on an unwrap invalid_argument (the share names a version the
///    vault does not have), else failed_precondition (the configured key
///    does not exist);
///  - 429, 5xx and anything else → unavailable.
Error map_kv_error(std::string_view operation, const http::Response& response, bool opening);

/// The `resource` of a `WWW-Authenticate: Bearer authorization="…",
/// resource="…"` (or `scope="…"`) challenge; empty when there is none.
std::string challenge_resource(const http::Response& response);

}  // namespace trousseau::providers::azurekv
