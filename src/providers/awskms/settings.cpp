#include "providers/awskms/settings.hpp"

#include <algorithm>
#include <cctype>

#include "common/text.hpp"
#include "http/message.hpp"
#include "providers/awskms/key_metadata.hpp"

namespace trousseau::providers::awskms {

namespace {

bool plausible_key_id(const std::string& k) {
  if (is_kms_arn(k, "key") || is_kms_arn(k, "alias")) return true;
  if (k.rfind("alias/", 0) == 0) return valid_resource_name(std::string_view(k).substr(6), "/_-");
  return valid_resource_name(k, "-");  // a key id, or a multi-Region "mrk-…" id
}

/// "eu-west-1", "us-gov-east-1", "cn-north-1": letters, then words, then a number.
bool plausible_region(const std::string& r) {
  const std::size_t last = r.rfind('-');
  return r.size() >= 6 && std::islower(static_cast<unsigned char>(r[0])) != 0 &&
         std::islower(static_cast<unsigned char>(r[1])) != 0 && r[2] == '-' &&
         last != std::string::npos && last > 2 && last + 1 < r.size() &&
         std::all_of(r.begin() + static_cast<long>(last) + 1, r.end(),
                     [](char c) { return c >= '0' && c <= '9'; }) &&
         valid_resource_name(r, "-") &&
         std::none_of(r.begin(), r.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; });
}

/// https anywhere; plain http only to a loopback emulator.
void check_endpoint(settings::Node& node, const std::string& key, const std::string& value) {
  if (value.empty()) return;
  Result<http::Url> url = http::Url::parse(value);
  if (!url.ok()) return node.error(key, url.error().message());
  if (!url->tls() && !url->loopback()) {
    node.error(key, "plain http is allowed to a loopback address only (an emulator); use https");
  }
}

}  // namespace

std::unique_ptr<Settings> parse_settings(settings::Node& node) {
  auto s = std::make_unique<Settings>();
  s->key_id = node.string("key_id");
  if (!s->key_id.empty() && !plausible_key_id(s->key_id)) {
    node.error("key_id", "'" + s->key_id + "' is not a KMS key id, key ARN, alias name or alias ARN");
  }
  s->region = node.string("region", "");
  const std::string arn_region = s->key_id.rfind("arn:", 0) == 0 ? region_of_arn(s->key_id) : "";
  if (s->region.empty()) s->region = arn_region;
  if (s->region.empty()) {
    node.error("region", "is required unless key_id is an ARN");
  } else if (!arn_region.empty() && arn_region != s->region) {
    node.error("region", "'" + s->region + "' differs from the region of key_id (" + arn_region + ")");
  } else if (!plausible_region(s->region)) {
    node.error("region", "'" + s->region + "' is not an AWS region name");
  }
  s->endpoint = node.string("endpoint", "");
  check_endpoint(node, "endpoint", s->endpoint);
  s->sts_endpoint = node.string("sts_endpoint", "");
  check_endpoint(node, "sts_endpoint", s->sts_endpoint);
  s->cluster_name = node.string("cluster_name");
  if (s->cluster_name.size() > 256) node.error("cluster_name", "must be at most 256 characters");
  s->profile = node.string("profile", "");
  s->ca_file = node.string("ca_file", "");
  if (!s->ca_file.empty() && s->ca_file.front() != '/') {
    node.error("ca_file", "must be an absolute path");
  }
  s->previous_key_ids = node.string_list("previous_key_ids");
  for (std::size_t i = 0; i < s->previous_key_ids.size(); ++i) {
    const std::string& k = s->previous_key_ids[i];
    const std::string where = "previous_key_ids[" + std::to_string(i) + "]";
    if (!is_kms_arn(k, "key")) {
      node.error(where, quote(k) + " is not a KMS key ARN (previous keys are named by their full ARN, never an alias)");
    } else if (!s->region.empty() && region_of_arn(k) != s->region) {
      node.error(where, "is in region " + region_of_arn(k) + ", but this provider uses " + s->region);
    }
  }
  s->legacy_encryption_context = node.string_map("legacy_encryption_context");
  return s;
}

}  // namespace trousseau::providers::awskms
