#include "providers/gcpkms/kms_messages.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <optional>

#include "common/base64url.hpp"
#include "common/text.hpp"
#include "http/json_fields.hpp"
#include "providers/gcpkms/crc32c.hpp"

namespace trousseau::providers::gcpkms {

using http::string_field;

namespace {

/// An int64 field: a decimal string (proto3 JSON), or a number.
std::optional<std::uint32_t> crc_field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  std::uint64_t n = 0;
  if (v->is_string()) {
    const auto& s = v->as_string();
    auto [p, err] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (err != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  } else if (v->is_uint64()) {
    n = v->as_uint64();
  } else if (v->is_int64() && v->as_int64() >= 0) {
    n = static_cast<std::uint64_t>(v->as_int64());
  } else {
    return std::nullopt;
  }
  if (n > 0xffffffffu) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

bool true_field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

/// Proto3 JSON writes bytes as standard base64 with padding, and its
/// parsers also take the URL-safe alphabet: so do we.
bool decode_bytes(std::string_view text, Bytes& out) {
  return base64_decode(text, out) || base64url_decode(text, out);
}

/// Parses `body` into a stack arena that is wiped afterwards, so that no
/// copy of a plaintext lingers on the heap.
template <typename T, typename F>
Result<T> read_object(std::string_view body, F&& read) {
  alignas(std::max_align_t) unsigned char arena[4096];
  Result<T> result = unavailable("malformed Cloud KMS answer");
  {
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, &mr);
    if (!ec && v.is_object()) result = read(v.as_object());
  }
  secure_wipe(std::span<std::uint8_t>(arena, sizeof arena));
  return result;
}

std::string crc_string(ByteView data) { return "\"" + std::to_string(crc32c(data)) + "\""; }

/// `{"<data_key>":"<b64>","<data_key>Crc32c":"<n>","additionalAuthenticatedData":…}`
std::string request(std::string_view data_key, ByteView data, ByteView aad) {
  std::string d = base64_encode(data);
  std::string body;
  body.reserve(160 + d.size() + 2 * aad.size());
  body += "{\"";
  body += data_key;
  body += "\":\"";
  body += d;  // base64 needs no JSON escaping
  body += "\",\"";
  body += data_key;
  body += "Crc32c\":" + crc_string(data);
  secure_wipe(d);
  body += ",\"additionalAuthenticatedData\":\"" + base64_encode(aad) + "\"";
  body += ",\"additionalAuthenticatedDataCrc32c\":" + crc_string(aad) + "}";
  return body;
}

}  // namespace

std::string encrypt_request(ByteView plaintext, ByteView aad) {
  return request("plaintext", plaintext, aad);
}

std::string decrypt_request(ByteView ciphertext, ByteView aad) {
  return request("ciphertext", ciphertext, aad);
}

Result<EncryptAnswer> parse_encrypt_response(std::string_view body, bool& corrupt) {
  corrupt = false;
  return read_object<EncryptAnswer>(body, [&](const boost::json::object& o) -> Result<EncryptAnswer> {
    EncryptAnswer a;
    a.name = string_field(o, "name");
    const std::string text = string_field(o, "ciphertext");
    if (a.name.empty() || text.empty()) return unavailable("encrypt answer without name or ciphertext");
    if (!decode_bytes(text, a.ciphertext)) return unavailable("encrypt answer: ciphertext is not base64");
    corrupt = true;
    if (!true_field(o, "verifiedPlaintextCrc32c")) {
      return unavailable("encrypt answer: the service did not verify the plaintext's CRC32C "
                         "(verifiedPlaintextCrc32c is not true)");
    }
    if (!true_field(o, "verifiedAdditionalAuthenticatedDataCrc32c")) {
      return unavailable("encrypt answer: the service did not verify the additional data's CRC32C "
                         "(verifiedAdditionalAuthenticatedDataCrc32c is not true)");
    }
    const std::optional<std::uint32_t> crc = crc_field(o, "ciphertextCrc32c");
    if (!crc) return unavailable("encrypt answer without a ciphertextCrc32c");
    if (*crc != crc32c(a.ciphertext)) {
      return unavailable("encrypt answer: the ciphertext does not match its ciphertextCrc32c");
    }
    corrupt = false;
    return a;
  });
}

Result<SecretBytes> parse_decrypt_response(std::string& body, bool& corrupt) {
  corrupt = false;
  Result<SecretBytes> r =
      read_object<SecretBytes>(body, [&](const boost::json::object& o) -> Result<SecretBytes> {
        const boost::json::value* v = o.if_contains("plaintext");
        if (v == nullptr || !v->is_string()) return unavailable("decrypt answer without plaintext");
        Bytes plain;
        if (!decode_bytes(std::string_view(v->as_string()), plain)) {
          secure_wipe(plain);
          return unavailable("decrypt answer: plaintext is not base64");
        }
        SecretBytes out(plain);
        secure_wipe(plain);
        const std::optional<std::uint32_t> crc = crc_field(o, "plaintextCrc32c");
        if (!crc || *crc != crc32c(out.view())) {
          corrupt = true;
          return unavailable(crc ? "decrypt answer: the plaintext does not match its plaintextCrc32c"
                                 : "decrypt answer without a plaintextCrc32c");
        }
        return out;
      });
  secure_wipe(body);
  return r;
}

Result<CryptoKeyInfo> parse_crypto_key(std::string_view body) {
  return read_object<CryptoKeyInfo>(body, [](const boost::json::object& o) -> Result<CryptoKeyInfo> {
    CryptoKeyInfo k;
    k.name = string_field(o, "name");
    k.purpose = string_field(o, "purpose");
    if (k.name.empty()) return unavailable("cryptoKey answer without a name");
    if (const auto* p = o.if_contains("primary"); p != nullptr && p->is_object()) {
      k.primary = string_field(p->as_object(), "name");
      k.primary_state = string_field(p->as_object(), "state");
    }
    return k;
  });
}

GoogleError parse_google_error(std::string_view body) {
  GoogleError e;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return e;
  const boost::json::value* err = v.as_object().if_contains("error");
  if (err == nullptr || !err->is_object()) return e;
  const auto& o = err->as_object();
  if (const auto* c = o.if_contains("code"); c != nullptr && c->is_int64()) {
    e.code = static_cast<int>(c->as_int64());
  }
  e.status = string_field(o, "status");
  e.message = string_field(o, "message").substr(0, 300);
  return e;
}

Error map_kms_error(std::string_view operation, const http::Response& response, bool opening) {
  const GoogleError g = parse_google_error(response.body);
  std::string what = std::string(operation) + ": HTTP " + std::to_string(response.status);
  if (!g.status.empty()) what += " " + quote(g.status, 64);
  if (!g.message.empty()) what += ": " + quote(g.message);
  if (response.status == 401 || response.status == 403) return Error(Code::permission_denied, what);
  if (g.status == "FAILED_PRECONDITION") return Error(Code::failed_precondition, what);
  if (response.status == 400) return opening ? integrity_error(what) : invalid_argument(what);
  if (response.status == 404) return Error(Code::failed_precondition, what);
  return unavailable(what);
}

}  // namespace trousseau::providers::gcpkms
