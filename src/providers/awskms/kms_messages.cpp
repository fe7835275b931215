#include "providers/awskms/kms_messages.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/text.hpp"
#include "http/json_fields.hpp"
#include "providers/awskms/kms_api.hpp"

namespace trousseau::providers::awskms {

using http::string_field;

namespace {

std::string json_string(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

/// Parses `body` into a stack arena that is wiped afterwards, so that no
/// copy of a plaintext lingers on the heap; then wipes `body` itself.
template <typename F>
auto with_answer(std::string& body, F&& read) -> decltype(read(std::declval<const boost::json::object&>())) {
  alignas(std::max_align_t) unsigned char arena[4096];
  decltype(read(std::declval<const boost::json::object&>())) result =
      unavailable("malformed KMS answer");
  {
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, &mr);
    if (!ec && v.is_object()) result = read(v.as_object());
  }
  secure_wipe(arena);
  secure_wipe(body);
  return result;
}

}  // namespace

std::string encryption_context_json(ByteView context, const std::string& cluster) {
  return "{\"trousseau.io/share\":" + json_string(base64_encode(context)) +
         ",\"trousseau.io/cluster\":" + json_string(cluster) + "}";
}

std::string key_request(const std::string& key_id) { return "{\"KeyId\":" + json_string(key_id) + "}"; }

std::string encrypt_request(const std::string& key_arn, ByteView plaintext,
                            const std::string& context_json) {
  std::string b64 = base64_encode(plaintext);
  std::string body;
  body.reserve(64 + key_arn.size() + b64.size() + context_json.size());
  body += "{\"KeyId\":" + json_string(key_arn) + ",\"Plaintext\":\"";
  body += b64;  // base64 needs no JSON escaping
  body += "\",\"EncryptionContext\":" + context_json + "}";
  secure_wipe(b64);
  return body;
}

std::string decrypt_request(const std::string& key_arn, ByteView blob,
                            const std::string& context_json) {
  return "{\"KeyId\":" + json_string(key_arn) + ",\"CiphertextBlob\":\"" + base64_encode(blob) +
         "\",\"EncryptionContext\":" + context_json + "}";
}

std::string encryption_context_json(const std::map<std::string, std::string>& pairs) {
  if (pairs.empty()) return "";
  boost::json::object o;
  for (const auto& [k, v] : pairs) o[k] = v;
  return boost::json::serialize(o);
}

std::string legacy_decrypt_request(const std::string& key_arn, ByteView blob,
                                   const std::string& context_json) {
  std::string body = "{\"KeyId\":" + json_string(key_arn) + ",\"CiphertextBlob\":\"" +
                     base64_encode(blob) + "\"";
  if (!context_json.empty()) body += ",\"EncryptionContext\":" + context_json;
  return body + "}";
}

namespace {

/// KMS names the key it used; anything but the key we asked for means the
/// answer is not the one we need, whatever it carries.
Error check_key(std::string_view operation, const boost::json::object& o,
                const std::string& key_arn) {
  const std::string id = string_field(o, "KeyId");
  if (id == key_arn) return {};
  return integrity_error(std::string(operation) + ": KeyId mismatch: KMS answered for key " +
                         (id.empty() ? std::string("(none)") : quote(id)) + ", we asked for " +
                         key_arn);
}

}  // namespace

Result<Bytes> parse_encrypt_answer(std::string& body, const std::string& key_arn) {
  return with_answer(body, [&](const boost::json::object& o) -> Result<Bytes> {
    if (Error e = check_key("Encrypt", o, key_arn); !e.ok()) return e;
    Bytes blob;
    if (!base64_decode(string_field(o, "CiphertextBlob"), blob) || blob.empty()) {
      return unavailable("Encrypt: answer has no CiphertextBlob");
    }
    return blob;
  });
}

Result<SecretBytes> parse_decrypt_answer(std::string& body, const std::string& key_arn) {
  return with_answer(body, [&](const boost::json::object& o) -> Result<SecretBytes> {
    // Checked before the plaintext is even decoded: a share from another
    // key is dropped unread (with_answer wipes the arena and the body).
    if (Error e = check_key("Decrypt", o, key_arn); !e.ok()) return e;
    const boost::json::value* v = o.if_contains("Plaintext");
    Bytes plain;
    if (v == nullptr || !v->is_string() || !base64_decode(v->as_string(), plain)) {
      secure_wipe(plain);
      return unavailable("Decrypt: answer has no Plaintext");
    }
    SecretBytes out(plain);
    secure_wipe(plain);
    return out;
  });
}

}  // namespace trousseau::providers::awskms
