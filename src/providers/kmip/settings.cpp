#include "providers/kmip/settings.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace trousseau::providers::kmip {

namespace {

std::string absolute_path(settings::Node& node, const std::string& key, bool required) {
  std::string path = required ? node.string(key) : node.string(key, "");
  if (!path.empty() && path.front() != '/') node.error(key, "must be an absolute path");
  return path;
}

}  // namespace

bool valid_identifier(std::string_view id) {
  return !id.empty() && id.size() <= 255 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  const std::string endpoint = node.string("endpoint");
  if (!endpoint.empty()) {
    // host, host:port, [v6]:port
    std::string host = endpoint, port;
    if (endpoint.find_first_of("/ \t") != std::string::npos) {
      node.error("endpoint", quote(endpoint) + " is not host:port (no scheme, no path)");
      host = "-";  // reported
    } else if (host.front() == '[') {
      const auto close = host.find(']');
      if (close == std::string::npos) {
        node.error("endpoint", quote(endpoint) + " has an unclosed '['");
      } else {
        if (close + 1 < host.size()) {
          if (host[close + 1] != ':') node.error("endpoint", quote(endpoint) + " is not host:port");
          port = host.substr(close + 2);
        }
        host = host.substr(1, close - 1);
      }
    } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (host.empty()) {
      node.error("endpoint", quote(endpoint) + " is not host:port");
    }
    if (!port.empty()) {
      const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(),
                                                          [](char c) { return c >= '0' && c <= '9'; });
      const long n = digits ? std::stol(port) : 0;
      if (n < 1 || n > 65535) {
        node.error("endpoint", quote(port) + " is not a port number");
      } else {
        s->port = static_cast<std::uint16_t>(n);
      }
    }
    s->host = host == "-" ? "" : host;
  }
  s->server_name = node.string("server_name", "");
  s->ca_file = absolute_path(node, "ca_file", false);
  // KMIP authenticates the client by its certificate: there is no other
  // credential, so both are required.
  s->client_certificate_file = absolute_path(node, "client_certificate_file", true);
  s->client_key_file = absolute_path(node, "client_key_file", true);

  s->key_uid = node.string("key_uid", "");
  s->key_name = node.string("key_name", "");
  if (s->key_uid.empty() == s->key_name.empty()) {
    node.error("key_uid", "exactly one of key_uid and key_name is required");
  }
  if (!s->key_uid.empty() && !valid_identifier(s->key_uid)) {
    node.error("key_uid", "must be 1-255 printable ASCII characters without spaces");
  }
  if (!s->key_name.empty() && (s->key_name.size() > 255 ||
                               std::any_of(s->key_name.begin(), s->key_name.end(),
                                           [](char c) { return static_cast<unsigned char>(c) < ' '; }))) {
    node.error("key_name", "must be at most 255 characters, without control characters");
  }
  s->previous_key_uids = node.string_list("previous_key_uids");
  for (std::size_t i = 0; i < s->previous_key_uids.size(); ++i) {
    if (!valid_identifier(s->previous_key_uids[i])) {
      node.error("previous_key_uids[" + std::to_string(i) + "]",
                 "must be 1-255 printable ASCII characters without spaces");
    }
  }

  const std::string mode = node.string("mode", "gcm");
  if (mode == "gcm") {
    s->mode = Mode::gcm;
  } else if (mode == "cbc") {
    s->mode = Mode::cbc;
  } else {
    node.error("mode", quote(mode) + " is not one of gcm, cbc");
  }
  if (node.has("tag_length") && s->mode != Mode::gcm) {
    node.error("tag_length", "is used by mode gcm only");
  }
  s->tag_length = static_cast<std::size_t>(node.integer("tag_length", 16, 12, 16));

  if (node.has("protocol_versions")) {
    s->protocol_versions = node.string_list("protocol_versions");
    static const std::vector<std::string> kKnown{"2.0", "1.4", "1.3", "1.2"};
    if (s->protocol_versions.empty()) node.error("protocol_versions", "must list at least one version");
    for (std::size_t i = 0; i < s->protocol_versions.size(); ++i) {
      const std::string& v = s->protocol_versions[i];
      if (std::find(kKnown.begin(), kKnown.end(), v) == kKnown.end()) {
        node.error("protocol_versions[" + std::to_string(i) + "]",
                   quote(v) + " is not one of 2.0, 1.4, 1.3, 1.2");
      } else if (std::count(s->protocol_versions.begin(), s->protocol_versions.end(), v) > 1) {
        node.error("protocol_versions[" + std::to_string(i) + "]", quote(v) + " is listed twice");
      }
    }
  }
  if (s->mode == Mode::gcm &&
      std::none_of(s->protocol_versions.begin(), s->protocol_versions.end(),
                   [](const std::string& v) { return v == "2.0" || v == "1.4"; })) {
    node.error("mode", "gcm needs KMIP 1.4 or newer (its additional data and tag): list 1.4 or 2.0 "
                       "in protocol_versions, or use mode: cbc");
  }
  s->max_idle_connections = static_cast<std::size_t>(node.integer("max_idle_connections", 4, 0, 64));
  return s;
}

}  // namespace trousseau::providers::kmip
