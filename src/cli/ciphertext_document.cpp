#include "cli/ciphertext_document.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/bytes.hpp"

namespace trousseau::cli {

namespace json = boost::json;

namespace {

std::string api_name(Api api) { return api == Api::v2 ? "v2" : "v1beta1"; }

Result<std::string> base64_field(const json::value& v, const std::string& name) {
  if (!v.is_string()) return invalid_argument(name + " must be a base64 string");
  Bytes bytes;
  if (!base64_decode(std::string_view(v.as_string()), bytes)) {
    return invalid_argument(name + " is not valid base64");
  }
  return std::string(as_chars(bytes));
}

}  // namespace

std::string to_json(const CiphertextDocument& doc) {
  json::object o;
  o["api"] = api_name(doc.api);
  o["ciphertext"] = base64_encode(as_bytes(doc.ciphertext));
  if (doc.api == Api::v2) {
    o["key_id"] = doc.key_id;
    json::object annotations;
    for (const auto& [k, v] : doc.annotations) annotations[k] = base64_encode(as_bytes(v));
    o["annotations"] = std::move(annotations);
  }
  return json::serialize(o);
}

Result<CiphertextDocument> parse_ciphertext_document(std::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) return invalid_argument("input is not JSON: " + ec.message());
  if (!v.is_object()) return invalid_argument("input is not a JSON object");
  CiphertextDocument doc;
  bool has_ciphertext = false;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "api") {
      const std::string_view name = value.is_string() ? std::string_view(value.as_string()) : "";
      if (name == "v2") {
        doc.api = Api::v2;
      } else if (name == "v1beta1") {
        doc.api = Api::v1beta1;
      } else {
        return invalid_argument("\"api\" must be \"v2\" or \"v1beta1\"");
      }
    } else if (key == "ciphertext") {
      auto c = base64_field(value, "\"ciphertext\"");
      if (!c.ok()) return c.error();
      doc.ciphertext = std::move(c.value());
      has_ciphertext = true;
    } else if (key == "key_id") {
      if (!value.is_string()) return invalid_argument("\"key_id\" must be a string");
      doc.key_id = std::string(value.as_string());
    } else if (key == "annotations") {
      if (!value.is_object()) return invalid_argument("\"annotations\" must be an object");
      for (const auto& [name, encoded] : value.as_object()) {
        auto a = base64_field(encoded, "annotation \"" + std::string(name) + "\"");
        if (!a.ok()) return a.error();
        doc.annotations.emplace(std::string(name), std::move(a.value()));
      }
    } else {
      return invalid_argument("unknown field \"" + std::string(key) + "\"");
    }
  }
  if (!has_ciphertext) return invalid_argument("no \"ciphertext\" field");
  if (doc.api == Api::v1beta1 && (!doc.annotations.empty() || !doc.key_id.empty())) {
    return invalid_argument("a v1beta1 document has no \"key_id\" or \"annotations\"");
  }
  return doc;
}

}  // namespace trousseau::cli
