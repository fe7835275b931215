#include "providers/vault/settings.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "http/message.hpp"

namespace trousseau::providers::vault {

namespace {

bool segment_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

void absolute_file(settings::Node& node, const std::string& key, const std::string& value) {
  if (!value.empty() && value.front() != '/') node.error(key, "must be an absolute path");
}

void parse_auth(settings::Node& parent, Settings& s) {
  if (!parent.has("auth")) {
    parent.error("auth", "is required: token, approle, kubernetes, jwt or cert");
    return;
  }
  settings::Node node = parent.mapping("auth");
  AuthSettings& a = s.auth;
  a.method = node.string("method");
  const bool known = a.method == "token" || a.method == "approle" || a.method == "kubernetes" ||
                     a.method == "jwt" || a.method == "cert";
  if (!a.method.empty() && !known) {
    node.error("method", quote(a.method) + " is not one of token, approle, kubernetes, jwt, cert");
  }
  if (a.method == "token") {
    a.token_file = node.string("token_file");
    absolute_file(node, "token_file", a.token_file);
  } else if (known) {
    a.mount = node.string("mount", a.method);
    if (!valid_vault_path(a.mount)) node.error("mount", quote(a.mount) + " is not a Vault path");
  }
  if (a.method == "approle") {
    a.role_id = node.string("role_id");
    a.secret_id_file = node.string("secret_id_file");
    absolute_file(node, "secret_id_file", a.secret_id_file);
  }
  if (a.method == "kubernetes" || a.method == "jwt") {
    a.role = node.string("role");
    a.jwt_file = a.method == "kubernetes" ? node.string("jwt_file", kServiceAccountTokenFile)
                                          : node.string("jwt_file");
    absolute_file(node, "jwt_file", a.jwt_file);
  }
  if (a.method == "cert") {
    a.role = node.string("role", "");
    if (s.client_cert.empty()) {
      node.error("method", "cert needs the provider's client_cert and client_key");
    }
  }
  node.reject_unknown_keys();
}

}  // namespace

bool valid_vault_path(const std::string& path) {
  if (path.empty() || path.size() > 256) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view seg(path.data() + start,
                               (slash == std::string::npos ? path.size() : slash) - start);
    if (seg.empty() || seg == "." || seg == ".." ||
        !std::all_of(seg.begin(), seg.end(), segment_char)) {
      return false;
    }
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  s->address = node.string("address");
  if (!s->address.empty()) {
    Result<http::Url> url = http::Url::parse(s->address);
    if (!url.ok()) {
      node.error("address", url.error().message());
    } else if (url->target != "/") {
      node.error("address", "must be the server's origin, without a path (the API is under /v1/)");
    } else if (!url->tls() && !url->loopback()) {
      node.error("address", "plain http is allowed to a loopback address only (a dev server); use https");
    }
  }
  s->vault_namespace = node.string("namespace", "");
  while (!s->vault_namespace.empty() && s->vault_namespace.back() == '/') s->vault_namespace.pop_back();
  if (node.has("namespace") && !valid_vault_path(s->vault_namespace)) {
    node.error("namespace", quote(s->vault_namespace) + " is not a Vault namespace path");
  }
  s->mount = node.string("mount", "transit");
  if (!valid_vault_path(s->mount)) node.error("mount", quote(s->mount) + " is not a Vault path");
  s->key = node.string("key");
  if (!s->key.empty() && (s->key.find('/') != std::string::npos || !valid_vault_path(s->key))) {
    node.error("key", quote(s->key) + " is not a transit key name (letters, digits, _ - .)");
  }
  s->ca_file = node.string("ca_file", "");
  absolute_file(node, "ca_file", s->ca_file);
  s->client_cert = node.string("client_cert", "");
  s->client_key = node.string("client_key", "");
  absolute_file(node, "client_cert", s->client_cert);
  absolute_file(node, "client_key", s->client_key);
  if (s->client_cert.empty() != s->client_key.empty()) {
    node.error(s->client_cert.empty() ? "client_cert" : "client_key",
               "client_cert and client_key go together");
  }
  s->server_name = node.string("server_name", "");
  parse_auth(node, *s);
  return s;
}

}  // namespace trousseau::providers::vault
