#include "providers/azurekv/settings.hpp"

#include <algorithm>
#include <array>

#include "common/text.hpp"
#include "http/message.hpp"

namespace trousseau::providers::azurekv {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && http::iequals(s.substr(s.size() - suffix.size()), suffix);
}

/// https anywhere; for IMDS also plain http to its link-local address or
/// loopback, as IMDS is plain http.
void check_url(settings::Node& node, const std::string& key, const std::string& value,
               bool plain_imds) {
  if (value.empty()) return;
  Result<http::Url> url = http::Url::parse(value);
  if (!url.ok()) return node.error(key, url.error().message());
  if (url->tls()) return;
  if (!plain_imds) return node.error(key, "must be an https URL");
  if (!url->loopback() && url->host != "169.254.169.254") {
    node.error(key, "plain http is allowed to 169.254.169.254 or a loopback address only");
  }
}

std::string absolute_path(settings::Node& node, const std::string& key) {
  std::string path = node.string(key, "");
  if (!path.empty() && path.front() != '/') node.error(key, "must be an absolute path");
  return path;
}

}  // namespace

bool valid_key_name(std::string_view name) {
  return !name.empty() && name.size() <= 127 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-';
         });
}

Cloud cloud_of_host(std::string_view host) {
  // Microsoft's documented DNS suffixes of Key Vault and Managed HSM, and
  // the Entra authority of each cloud.
  struct Known {
    std::string_view suffix, resource, authority;
  };
  static constexpr std::array<Known, 6> kClouds{{
      {".vault.azure.net", "https://vault.azure.net", "https://login.microsoftonline.com"},
      {".managedhsm.azure.net", "https://managedhsm.azure.net", "https://login.microsoftonline.com"},
      {".vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net", "https://login.microsoftonline.us"},
      {".managedhsm.usgovcloudapi.net", "https://managedhsm.usgovcloudapi.net", "https://login.microsoftonline.us"},
      {".vault.azure.cn", "https://vault.azure.cn", "https://login.chinacloudapi.cn"},
      {".managedhsm.azure.cn", "https://managedhsm.azure.cn", "https://login.chinacloudapi.cn"},
  }};
  for (const Known& k : kClouds) {
    if (ends_with(host, k.suffix)) {
      return {std::string(k.resource) + "/.default", std::string(k.authority)};
    }
  }
  return {};
}

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  s->vault_url = node.string("vault_url");
  std::string host;
  if (!s->vault_url.empty()) {
    Result<http::Url> url = http::Url::parse(s->vault_url);
    if (!url.ok()) {
      node.error("vault_url", url.error().message());
    } else if (!url->tls()) {
      node.error("vault_url", "must be an https URL");
    } else if (url->target != "/") {
      node.error("vault_url", "must name the vault only (https://<name>.vault.azure.net), no path");
    } else {
      host = url->host;
      while (!s->vault_url.empty() && s->vault_url.back() == '/') s->vault_url.pop_back();
    }
  }
  s->key_name = node.string("key_name");
  if (!s->key_name.empty() && !valid_key_name(s->key_name)) {
    node.error("key_name", quote(s->key_name) + " is not a Key Vault key name (1-127 letters, digits, '-')");
  }
  // The key version (kid) is recorded in every envelope: keep it short.
  if (s->vault_url.size() + s->key_name.size() + 48 > 255) {
    node.error("key_name", "the vault URL and key name are too long for a key version (255 bytes)");
  }
  s->algorithm = node.string("algorithm", "auto");
  if (s->algorithm == "auto") {
    s->algorithm.clear();
  } else if (s->algorithm != "RSA-OAEP-256" && s->algorithm != "A256KW" &&
             s->algorithm != "A256GCM") {
    node.error("algorithm", quote(s->algorithm) + " is not one of auto, RSA-OAEP-256, A256KW, A256GCM");
  }
  s->previous_key_names = node.string_list("previous_key_names");
  for (std::size_t i = 0; i < s->previous_key_names.size(); ++i) {
    if (!valid_key_name(s->previous_key_names[i])) {
      node.error("previous_key_names[" + std::to_string(i) + "]",
                 quote(s->previous_key_names[i]) + " is not a Key Vault key name");
    }
  }
  const Cloud cloud = cloud_of_host(host);
  s->scope = node.string("scope", "");
  if (s->scope.empty()) {
    s->scope = cloud.scope;
    if (s->scope.empty() && !host.empty()) {
      node.error("scope", "is required: " + quote(host) +
                              " is not a Key Vault or Managed HSM host name we know the cloud of");
    }
  } else if (s->scope.size() < 10 || s->scope.substr(s->scope.size() - 9) != "/.default" ||
             !http::Url::parse(s->scope.substr(0, s->scope.size() - 9)).ok()) {
    node.error("scope", quote(s->scope) + " is not a resource URL followed by /.default");
  }
  s->ca_file = absolute_path(node, "ca_file");

  settings::Node auth = node.mapping("auth");
  AuthSettings& a = s->auth;
  const std::string method = auth.string("method");
  if (method == "client_secret") {
    a.method = AuthMethod::client_secret;
  } else if (method == "client_certificate") {
    a.method = AuthMethod::client_certificate;
  } else if (method == "workload_identity") {
    a.method = AuthMethod::workload_identity;
  } else if (method == "managed_identity") {
    a.method = AuthMethod::managed_identity;
  } else if (!method.empty()) {
    auth.error("method", quote(method) + " is not one of client_secret, client_certificate, "
                         "workload_identity, managed_identity");
  }
  const bool client_credentials =
      a.method == AuthMethod::client_secret || a.method == AuthMethod::client_certificate;
  if (client_credentials) {
    a.tenant_id = auth.string("tenant_id");
    a.client_id = auth.string("client_id");
  } else {
    // Workload identity falls back to AZURE_TENANT_ID / AZURE_CLIENT_ID (as
    // the webhook injects them) at create time; managed identity needs a
    // client id only for a user-assigned identity.
    a.tenant_id = auth.string("tenant_id", "");
    a.client_id = auth.string("client_id", "");
  }
  if (a.method == AuthMethod::managed_identity) {
    if (auth.has("tenant_id")) auth.error("tenant_id", "is not used by managed_identity");
  }
  if (a.method == AuthMethod::client_secret) {
    a.client_secret_file = absolute_path(auth, "client_secret_file");
    if (a.client_secret_file.empty()) auth.error("client_secret_file", "is required for client_secret");
  } else {
    auth.forbid("client_secret_file", "is read by method client_secret only");
  }
  if (a.method == AuthMethod::client_certificate) {
    a.client_certificate_file = absolute_path(auth, "client_certificate_file");
    if (a.client_certificate_file.empty()) {
      auth.error("client_certificate_file", "is required for client_certificate");
    }
  } else {
    auth.forbid("client_certificate_file", "is read by method client_certificate only");
  }
  if (a.method == AuthMethod::workload_identity) {
    a.federated_token_file = absolute_path(auth, "federated_token_file");
  } else {
    auth.forbid("federated_token_file", "is read by method workload_identity only");
  }
  if (a.method != AuthMethod::managed_identity) {
    a.authority_host = auth.string("authority_host", "");
    check_url(auth, "authority_host", a.authority_host, false);
    if (!a.authority_host.empty() && http::Url::parse(a.authority_host).ok() &&
        http::Url::parse(a.authority_host)->target != "/") {
      auth.error("authority_host", "must be a host only, e.g. https://login.microsoftonline.us");
    }
    while (!a.authority_host.empty() && a.authority_host.back() == '/') a.authority_host.pop_back();
    auth.forbid("imds_endpoint", "is used by method managed_identity only");
  } else {
    a.imds_endpoint = auth.string("imds_endpoint", "http://169.254.169.254");
    check_url(auth, "imds_endpoint", a.imds_endpoint, true);
    while (!a.imds_endpoint.empty() && a.imds_endpoint.back() == '/') a.imds_endpoint.pop_back();
    auth.forbid("authority_host", "is not used by managed_identity (IMDS knows its cloud)");
  }
  auth.reject_unknown_keys();
  return s;
}

}  // namespace trousseau::providers::azurekv
