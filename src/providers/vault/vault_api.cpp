#include "providers/vault/vault_api.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>

#include "common/text.hpp"

namespace trousseau::providers::vault {

namespace {

/// Parses `body` into a stack arena that is wiped afterwards, so that no
/// copy of a share, plaintext or token lingers on the heap (an answer
/// larger than the arena spills to the heap: ours are small); then wipes
/// `body` itself.
template <typename T, typename F>
Result<T> with_answer(std::string& body, std::string_view what, F&& read) {
  alignas(std::max_align_t) unsigned char arena[4096];
  Result<T> result = unavailable("malformed Vault answer to " + std::string(what));
  {
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, &mr);
    if (!ec && v.is_object()) result = read(v.as_object());
  }
  secure_wipe(std::span<std::uint8_t>(arena, sizeof arena));
  secure_wipe(body);
  return result;
}

const boost::json::object* object_at(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

std::optional<std::int64_t> integer_at(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= INT64_MAX) return static_cast<std::int64_t>(v->as_uint64());
  return std::nullopt;
}

bool bool_at(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

bool contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

Result<Token> token_of(const boost::json::object& auth) {
  const boost::json::value* v = auth.if_contains("client_token");
  if (v == nullptr || !v->is_string() || v->as_string().empty()) {
    return unavailable("Vault's auth answer has no client_token");
  }
  const boost::json::string& t = v->as_string();
  return Token(std::make_shared<const SecretBytes>(
      ByteView(reinterpret_cast<const std::uint8_t*>(t.data()), t.size())));
}

}  // namespace

VaultClient::VaultClient(std::unique_ptr<http::Client> client, http::Url address, std::string ns)
    : client_(std::move(client)), address_(std::move(address)), namespace_(std::move(ns)) {}

http::Request VaultClient::request(std::string method, const std::string& path, std::string body,
                                   const Token& token, bool sensitive) const {
  http::Request req;
  req.method = std::move(method);
  req.url = address_;
  req.url.target = "/v1/" + path;
  if (!namespace_.empty()) req.headers.push_back({"X-Vault-Namespace", namespace_});
  if (token) {
    // Best effort: the header strings are not wiped (docs/providers/vault.md).
    req.headers.push_back({"X-Vault-Token", std::string(as_chars(token->view()))});
  }
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  req.body = std::move(body);
  req.sensitive = sensitive;
  return req;
}

std::string json_string(std::string_view s) {
  return boost::json::serialize(boost::json::string(s));
}

std::string vault_errors(const http::Response& response) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(response.body, ec);
  std::string out;
  if (!ec && v.is_object()) {
    if (const auto* errors = v.as_object().if_contains("errors"); errors && errors->is_array()) {
      for (const auto& e : errors->as_array()) {
        if (!e.is_string()) continue;
        if (!out.empty()) out += "; ";
        out += std::string(e.as_string());
      }
    }
  }
  if (out.size() > 512) out.resize(512);
  return out;
}

Error map_vault_error(std::string_view what, const http::Response& response) {
  const std::string errors = vault_errors(response);
  // Vault's words are quoted: they reach logs and gRPC status messages.
  std::string text = std::string(what) + ": HTTP " + std::to_string(response.status) +
                     (errors.empty() ? "" : ": " + quote(errors));
  if (response.status == 400) {
    if (contains(errors, "disallowed by policy (too old)")) {
      return invalid_argument(text + " (the share's key version is below the key's "
                                     "min_decryption_version: retired in Vault)");
    }
    if (contains(errors, "message authentication failed") ||
        contains(errors, "invalid ciphertext") || contains(errors, "invalid key version")) {
      return integrity_error(std::move(text));
    }
    if (contains(errors, "encryption key not found") || contains(errors, "no existing key")) {
      return unavailable(std::move(text));
    }
    return invalid_argument(std::move(text));
  }
  if (response.status == 403) return Error(Code::permission_denied, std::move(text));
  return unavailable(std::move(text));
}

std::string_view context_field(const KeyInfo& key) {
  if (key.derived) return "context";
  if (key.type == "aes128-gcm96" || key.type == "aes256-gcm96" || key.type == "chacha20-poly1305") {
    return "associated_data";
  }
  return {};
}

std::optional<std::pair<unsigned, std::string_view>> split_ciphertext(std::string_view text) {
  constexpr std::string_view kPrefix = "vault:v";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 9 || text[0] == '0') {
    return std::nullopt;
  }
  unsigned n = 0;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return std::make_pair(n, text.substr(colon + 1));
}

std::string encrypt_body(ByteView plaintext, std::string_view field, ByteView context) {
  std::string b64 = base64_encode(plaintext);
  std::string body;
  body.reserve(64 + b64.size() + context.size() * 2);
  body += "{\"plaintext\":\"";
  body += b64;
  body += "\"";
  secure_wipe(b64);
  if (!field.empty() && !context.empty()) {
    body += ",\"" + std::string(field) + "\":\"" + base64_encode(context) + "\"";
  }
  body += "}";
  return body;
}

std::string decrypt_body(std::string_view ciphertext, std::string_view field, ByteView context) {
  std::string body = "{\"ciphertext\":" + json_string(ciphertext);
  if (!field.empty() && !context.empty()) {
    body += ",\"" + std::string(field) + "\":\"" + base64_encode(context) + "\"";
  }
  return body + "}";
}

Result<Ciphertext> parse_encrypt_answer(std::string& body) {
  return with_answer<Ciphertext>(body, "encrypt", [](const boost::json::object& o) -> Result<Ciphertext> {
    const boost::json::object* data = object_at(o, "data");
    const boost::json::value* ct = data ? data->if_contains("ciphertext") : nullptr;
    if (ct == nullptr || !ct->is_string()) return unavailable("encrypt: answer has no data.ciphertext");
    auto split = split_ciphertext(std::string_view(ct->as_string()));
    Ciphertext out;
    if (!split || !base64_decode(split->second, out.blob) || out.blob.empty()) {
      return unavailable("encrypt: data.ciphertext is not vault:v<N>:<base64>");
    }
    out.version = split->first;
    if (auto v = integer_at(*data, "key_version"); v && *v != out.version) {
      return unavailable("encrypt: data.key_version " + std::to_string(*v) +
                         " differs from the ciphertext's v" + std::to_string(out.version));
    }
    return out;
  });
}

Result<SecretBytes> parse_decrypt_answer(std::string& body) {
  return with_answer<SecretBytes>(body, "decrypt", [](const boost::json::object& o) -> Result<SecretBytes> {
    const boost::json::object* data = object_at(o, "data");
    const boost::json::value* pt = data ? data->if_contains("plaintext") : nullptr;
    Bytes plain;
    if (pt == nullptr || !pt->is_string() || !base64_decode(pt->as_string(), plain)) {
      secure_wipe(plain);
      return unavailable("decrypt: answer has no base64 data.plaintext");
    }
    SecretBytes out(plain);
    secure_wipe(plain);
    return out;
  });
}

Result<KeyInfo> parse_key_answer(std::string& body) {
  return with_answer<KeyInfo>(body, "keys", [](const boost::json::object& o) -> Result<KeyInfo> {
    const boost::json::object* data = object_at(o, "data");
    if (data == nullptr) return unavailable("keys: answer has no data");
    KeyInfo k;
    if (const auto* t = data->if_contains("type"); t && t->is_string()) k.type = t->as_string();
    k.derived = bool_at(*data, "derived");
    auto latest = integer_at(*data, "latest_version");
    auto min_dec = integer_at(*data, "min_decryption_version");
    if (!latest || *latest < 1 || *latest > 1000000000) {
      return unavailable("keys: answer has no valid data.latest_version");
    }
    k.latest_version = static_cast<unsigned>(*latest);
    k.min_decryption_version =
        min_dec && *min_dec >= 1 && *min_dec <= *latest ? static_cast<unsigned>(*min_dec) : 1;
    return k;
  });
}

Result<Grant> parse_auth_answer(std::string& body) {
  return with_answer<Grant>(body, "login", [](const boost::json::object& o) -> Result<Grant> {
    const boost::json::object* auth = object_at(o, "auth");
    if (auth == nullptr) return unavailable("Vault's answer has no auth block");
    Result<Token> token = token_of(*auth);
    if (!token.ok()) return token.error();
    Grant g;
    g.token = std::move(token).value();
    g.ttl = std::chrono::seconds(std::max<std::int64_t>(0, integer_at(*auth, "lease_duration").value_or(0)));
    g.renewable = bool_at(*auth, "renewable");
    return g;
  });
}

Result<Grant> parse_lookup_answer(std::string& body, Token token) {
  return with_answer<Grant>(body, "lookup-self", [&](const boost::json::object& o) -> Result<Grant> {
    const boost::json::object* data = object_at(o, "data");
    if (data == nullptr) return unavailable("lookup-self: answer has no data");
    Grant g;
    g.token = token;
    g.ttl = std::chrono::seconds(std::max<std::int64_t>(0, integer_at(*data, "ttl").value_or(0)));
    g.renewable = bool_at(*data, "renewable");
    return g;
  });
}

}  // namespace trousseau::providers::vault
