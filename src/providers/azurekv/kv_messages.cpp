#include "providers/azurekv/kv_messages.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/text.hpp"
#include "http/json_fields.hpp"

namespace trousseau::providers::azurekv {

using http::string_field;

namespace {

std::string json_string(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

/// Parses `body` into a stack arena that is wiped afterwards, so that no
/// copy of unwrapped material lingers on the heap.
template <typename T, typename F>
Result<T> read_object(std::string_view body, F&& read) {
  alignas(std::max_align_t) unsigned char arena[4096];
  Result<T> result = unavailable("malformed Key Vault answer");
  {
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, &mr);
    if (!ec && v.is_object()) result = read(v.as_object());
  }
  secure_wipe(std::span<std::uint8_t>(arena, sizeof arena));
  return result;
}

bool lists(const boost::json::object& key, std::string_view op) {
  const boost::json::value* ops = key.if_contains("key_ops");
  if (ops == nullptr || !ops->is_array()) return true;  // not stated: let the service decide
  for (const auto& o : ops->as_array()) {
    if (o.is_string() && o.as_string() == op) return true;
  }
  return false;
}

}  // namespace

Result<KeyBundle> parse_key_bundle(std::string_view body, std::string_view wrap_op,
                                   std::string_view unwrap_op) {
  return read_object<KeyBundle>(body, [&](const boost::json::object& o) -> Result<KeyBundle> {
    const boost::json::value* key = o.if_contains("key");
    if (key == nullptr || !key->is_object()) return unavailable("key bundle without a key");
    KeyBundle b;
    b.kid = string_field(key->as_object(), "kid");
    b.kty = string_field(key->as_object(), "kty");
    if (b.kid.empty() || b.kty.empty()) return unavailable("key bundle without kid or kty");
    b.can_wrap = lists(key->as_object(), wrap_op);
    b.can_unwrap = lists(key->as_object(), unwrap_op);
    if (const auto* a = o.if_contains("attributes"); a != nullptr && a->is_object()) {
      if (const auto* e = a->as_object().if_contains("enabled"); e != nullptr && e->is_bool()) {
        b.enabled = e->as_bool();
      }
    }
    return b;
  });
}

std::string operation_request(std::string_view alg, ByteView value, ByteView aad, ByteView iv,
                              ByteView tag) {
  std::string v = base64url_encode(value);
  std::string body;
  body.reserve(64 + v.size() + 2 * aad.size() + 64);
  body += "{\"alg\":" + json_string(alg) + ",\"value\":\"";
  body += v;  // base64url needs no JSON escaping
  body += "\"";
  secure_wipe(v);
  if (!aad.empty()) body += ",\"aad\":\"" + base64url_encode(aad) + "\"";
  if (!iv.empty()) body += ",\"iv\":\"" + base64url_encode(iv) + "\"";
  if (!tag.empty()) body += ",\"tag\":\"" + base64url_encode(tag) + "\"";
  body += "}";
  return body;
}

Result<OperationResult> parse_operation_result(std::string& body) {
  Result<OperationResult> r =
      read_object<OperationResult>(body, [](const boost::json::object& o) -> Result<OperationResult> {
        OperationResult out;
        out.kid = string_field(o, "kid");
        const boost::json::value* v = o.if_contains("value");
        if (out.kid.empty() || v == nullptr || !v->is_string()) {
          return unavailable("key operation answer without kid or value");
        }
        Bytes value;
        if (!base64url_decode(std::string_view(v->as_string()), value)) {
          return unavailable("key operation answer: value is not base64url");
        }
        out.value = SecretBytes(value);
        secure_wipe(value);
        for (auto [name, dest] : {std::pair{"iv", &out.iv}, std::pair{"tag", &out.tag}}) {
          const std::string text = string_field(o, name);
          if (!text.empty() && !base64url_decode(text, *dest)) {
            return unavailable(std::string("key operation answer: ") + name + " is not base64url");
          }
        }
        return out;
      });
  secure_wipe(body);
  return r;
}

KvError parse_kv_error(std::string_view body) {
  KvError e;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return e;
  const boost::json::value* err = v.as_object().if_contains("error");
  if (err == nullptr || !err->is_object()) return e;
  const auto& o = err->as_object();
  e.code = string_field(o, "code");
  e.message = string_field(o, "message").substr(0, 300);
  for (const char* name : {"innerError", "innererror"}) {
    if (const auto* in = o.if_contains(name); in != nullptr && in->is_object()) {
      e.inner = string_field(in->as_object(), "code");
    }
  }
  return e;
}

Error map_kv_error(std::string_view operation, const http::Response& response, bool opening) {
  const KvError kv = parse_kv_error(response.body);
  std::string what = std::string(operation) + ": HTTP " + std::to_string(response.status);
  if (!kv.code.empty()) what += " " + quote(kv.code, 64);
  if (!kv.inner.empty()) what += " (" + quote(kv.inner, 64) + ")";
  if (!kv.message.empty()) what += ": " + quote(kv.message);
  switch (response.status) {
    case 401:
    case 403:
      return Error(Code::permission_denied, what);
    case 400:
      return opening ? integrity_error(what) : invalid_argument(what);
    case 404:
      // On unwrap the share named the version: a version that does not
      // exist is the envelope's fault, and must not count against our
      // health (anyone who can write an envelope could trip the breaker).
      return opening ? invalid_argument(what) : Error(Code::failed_precondition, what);
    default:
      return unavailable(what);
  }
}

// The challenge is read by hand: it is one header whose two quoted
// parameters we need, and neither Boost nor OpenSSL parses RFC 9110 auth
// parameters. Only the resource is used, and only to compare it with ours.
std::string challenge_resource(const http::Response& response) {
  const std::string* h = response.header("WWW-Authenticate");
  if (h == nullptr) return {};
  for (std::string_view name : {"resource=\"", "scope=\""}) {
    const auto at = h->find(name);
    if (at == std::string::npos) continue;
    const auto start = at + name.size();
    const auto end = h->find('"', start);
    if (end == std::string::npos) return {};
    std::string value = h->substr(start, end - start);
    if (name == "scope=\"" && value.size() > 9 && value.substr(value.size() - 9) == "/.default") {
      value.resize(value.size() - 9);
    }
    return value;
  }
  return {};
}

}  // namespace trousseau::providers::azurekv
