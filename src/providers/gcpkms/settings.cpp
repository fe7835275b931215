#include "providers/gcpkms/settings.hpp"

#include <algorithm>
#include <array>

#include "common/text.hpp"
#include "http/message.hpp"

namespace trousseau::providers::gcpkms {

namespace {

/// Key ring and key ids are [a-zA-Z0-9_-]{1,63}; a domain-scoped project
/// id ("example.com:project") also has '.' and ':'.
bool valid_segment(std::string_view s, bool project) {
  return !s.empty() && s.size() <= (project ? 100 : 63) &&
         std::all_of(s.begin(), s.end(), [project](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (project && (c == '.' || c == ':'));
         });
}

std::string absolute_path(settings::Node& node, const std::string& key) {
  std::string path = node.string(key, "");
  if (!path.empty() && path.front() != '/') node.error(key, "must be an absolute path");
  return path;
}

/// An origin without a path, trailing slashes dropped; https unless
/// `plain_metadata` allows http to the metadata server's link-local
/// address, its DNS name, or loopback.
std::string origin(settings::Node& node, const std::string& key, std::string value,
                   bool plain_metadata) {
  while (!value.empty() && value.back() == '/') value.pop_back();
  Result<http::Url> url = http::Url::parse(value);
  if (!url.ok()) {
    node.error(key, url.error().message());
  } else if (url->target != "/") {
    node.error(key, "must be a scheme and host only, without a path");
  } else if (!url->tls()) {
    if (!plain_metadata) {
      node.error(key, "must be an https URL");
    } else if (!url->loopback() && url->host != "169.254.169.254" &&
               !http::iequals(url->host, "metadata.google.internal")) {
      node.error(key, "plain http is allowed to 169.254.169.254, metadata.google.internal or a "
                      "loopback address only");
    }
  }
  return value;
}

}  // namespace

bool valid_crypto_key_name(std::string_view name) {
  static constexpr std::array<std::string_view, 4> kCollections{"projects", "locations", "keyRings",
                                                                "cryptoKeys"};
  for (std::string_view collection : kCollections) {
    const auto slash = name.find('/');
    if (slash == std::string_view::npos || name.substr(0, slash) != collection) return false;
    name.remove_prefix(slash + 1);
    const auto end = name.find('/');
    const std::string_view id = name.substr(0, end);
    if (!valid_segment(id, collection == kCollections.front())) return false;
    name.remove_prefix(end == std::string_view::npos ? name.size() : end + 1);
    if (collection == kCollections.back()) return end == std::string_view::npos;
    if (end == std::string_view::npos) return false;
  }
  return false;
}

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  const std::string shape = " is not a Cloud KMS key name (projects/*/locations/*/keyRings/*/cryptoKeys/*)";
  s->key_name = node.string("key_name");
  if (!s->key_name.empty() && !valid_crypto_key_name(s->key_name)) {
    node.error("key_name", quote(s->key_name) + shape);
  }
  // Every envelope records the version, "<key_name>/cryptoKeyVersions/<n>",
  // in at most 255 bytes.
  if (s->key_name.size() + 19 + 18 > 255) {
    node.error("key_name", "is too long for a key version (255 bytes with /cryptoKeyVersions/<n>)");
  }
  s->previous_keys = node.string_list("previous_keys");
  for (std::size_t i = 0; i < s->previous_keys.size(); ++i) {
    if (!valid_crypto_key_name(s->previous_keys[i])) {
      node.error("previous_keys[" + std::to_string(i) + "]", quote(s->previous_keys[i]) + shape);
    }
  }
  s->endpoint = origin(node, "endpoint", node.string("endpoint", std::string(kDefaultEndpoint)), false);
  s->ca_file = absolute_path(node, "ca_file");

  settings::Node auth = node.mapping("auth");
  AuthSettings& a = s->auth;
  const std::string method = auth.string("method");
  if (method == "service_account_key") {
    a.method = AuthMethod::service_account_key;
  } else if (method == "workload_identity_federation") {
    a.method = AuthMethod::workload_identity_federation;
  } else if (method == "metadata_server") {
    a.method = AuthMethod::metadata_server;
  } else if (!method.empty()) {
    auth.error("method", quote(method) + " is not one of service_account_key, "
                         "workload_identity_federation, metadata_server");
  }
  if (a.method == AuthMethod::metadata_server) {
    auth.forbid("credentials_file", "is read by service_account_key and "
                                    "workload_identity_federation only");
    a.metadata_address =
        origin(auth, "metadata_address", auth.string("metadata_address", "http://169.254.169.254"), true);
  } else {
    a.credentials_file = absolute_path(auth, "credentials_file");
    auth.forbid("metadata_address", "is used by method metadata_server only");
  }
  auth.reject_unknown_keys();
  return s;
}

}  // namespace trousseau::providers::gcpkms
