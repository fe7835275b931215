// Vault's HTTP API as the provider uses it: requests under /v1/ with the
// namespace and token headers, the JSON bodies of transit and of the token
// and login endpoints, and what Vault's errors mean to us. No I/O here but
// the client it holds.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/secret.hpp"
#include "http/client.hpp"

namespace trousseau::providers::vault {

/// A Vault token. Shared and immutable: a request holds the one it sent,
/// so that a 403 can tell whether the token it used is still the current one.
using Token = std::shared_ptr<const SecretBytes>;

class VaultClient {
 public:
  VaultClient(std::unique_ptr<http::Client> client, http::Url address, std::string ns);

  /// A request for /v1/<path>, with X-Vault-Namespace when configured and
  /// X-Vault-Token when `token` is given. `sensitive` bodies (plaintexts,
  /// secrets, tokens in answers) are wiped by the client.
  http::Request request(std::string method, const std::string& path, std::string body,
                        const Token& token, bool sensitive) const;

  http::Client& http() { return *client_; }
  const http::Url& address() const { return address_; }
  const std::string& vault_namespace() const { return namespace_; }

 private:
  std::unique_ptr<http::Client> client_;
  http::Url address_;
  std::string namespace_;
};

/// Vault's own `{"errors": [...]}`, joined with "; " and cut at 512 bytes;
/// empty when the body has none. Vault's error texts carry no key material.
std::string vault_errors(const http::Response& response);

/// Maps a non-2xx answer of `what` ("encrypt", "login", …) to an Error
/// whose message is `<what>: HTTP <status>: "<Vault's errors>"`:
///  - 400 "message authentication failed", an undecodable ciphertext or an
///    unknown key version → integrity (the wrapped share does not open);
///  - 400 "disallowed by policy (too old)" → invalid_argument, saying that
///    the key version is below the key's min_decryption_version;
///  - 400 "encryption key not found" → unavailable (the key is missing);
///  - any other 400 → invalid_argument;
///  - 403 → permission_denied; 404 → unavailable (no such mount or key);
///  - 429, 5xx and the rest → unavailable.
Error map_vault_error(std::string_view what, const http::Response& response);

/// What `keys/<name>` says about a transit key.
struct KeyInfo {
  std::string type;  ///< "aes256-gcm96", …
  bool derived = false;
  unsigned latest_version = 0;
  unsigned min_decryption_version = 1;
};

/// How a key binds the share context: `context` for derived keys,
/// `associated_data` for AEAD keys that are not derived; empty when the
/// key type can bind neither (then the provider refuses to use it).
std::string_view context_field(const KeyInfo& key);

/// A token and how long Vault lets us keep it.
struct Grant {
  Token token;
  std::chrono::seconds ttl{0};  ///< 0: does not expire
  bool renewable = false;
};

/// "vault:v<N>:<payload>" → (N, payload); nullopt when the text is not
/// exactly that shape (N: 1 to 9 digits, no leading zero).
std::optional<std::pair<unsigned, std::string_view>> split_ciphertext(std::string_view text);

std::string encrypt_body(ByteView plaintext, std::string_view context_field, ByteView context);
std::string decrypt_body(std::string_view ciphertext, std::string_view context_field,
                         ByteView context);

/// The parsers below read the JSON into a wiped arena, then wipe `body`.
/// data.ciphertext of an encrypt answer, split.
struct Ciphertext {
  unsigned version = 0;
  Bytes blob;  ///< the base64-decoded payload
};
Result<Ciphertext> parse_encrypt_answer(std::string& body);
/// data.plaintext of a decrypt answer, base64-decoded.
Result<SecretBytes> parse_decrypt_answer(std::string& body);
Result<KeyInfo> parse_key_answer(std::string& body);
/// The `auth` block of a login or renew-self answer.
Result<Grant> parse_auth_answer(std::string& body);
/// data.ttl and data.renewable of a lookup-self answer, for `token`.
Result<Grant> parse_lookup_answer(std::string& body, Token token);

/// A JSON string literal, escaped.
std::string json_string(std::string_view s);

}  // namespace trousseau::providers::vault
