#include "providers/awskms/key_metadata.hpp"

#include <boost/json/parse.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>

#include "http/json_fields.hpp"

namespace trousseau::providers::awskms {

using http::string_field;

Result<KeyMetadata> parse_describe_key(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  const boost::json::value* md = !ec && v.is_object() ? v.as_object().if_contains("KeyMetadata") : nullptr;
  if (md == nullptr || !md->is_object()) return unavailable("DescribeKey: malformed answer");
  KeyMetadata k;
  k.arn = string_field(md->as_object(), "Arn");
  k.state = string_field(md->as_object(), "KeyState");
  k.material = string_field(md->as_object(), "CurrentKeyMaterialId");
  if (!is_kms_arn(k.arn, "key")) return unavailable("DescribeKey: answer has no key ARN");
  // It goes into the key identity, which arn_of_identity() must read back:
  // anything but the documented hex id is ignored (the rotation date stands in).
  if (k.material.size() > 128 || !valid_resource_name(k.material, "-_")) k.material.clear();
  return k;
}

std::string latest_rotation(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const boost::json::value* list = v.as_object().if_contains("Rotations");
  if (list == nullptr || !list->is_array()) return {};
  double latest = -1;
  for (const auto& r : list->as_array()) {
    if (!r.is_object()) continue;
    const boost::json::value* d = r.as_object().if_contains("RotationDate");
    if (d != nullptr && d->is_number()) latest = std::max(latest, d->to_number<double>());
  }
  return latest < 0 ? std::string() : std::to_string(static_cast<long long>(std::floor(latest)));
}

std::string key_identity(const std::string& arn, const std::string& material,
                         const std::string& rotation) {
  if (!material.empty()) return arn + "#material:" + material;
  if (!rotation.empty()) return arn + "#rotated:" + rotation;
  return arn;
}

std::string arn_of_identity(std::string_view identity) {
  const std::size_t hash = identity.find('#');
  const std::string_view arn = identity.substr(0, hash);
  if (!is_kms_arn(arn, "key")) return {};
  if (hash == std::string_view::npos) return std::string(arn);
  const std::string_view suffix = identity.substr(hash + 1);
  const auto after = [&](std::string_view tag) {
    return suffix.rfind(tag, 0) == 0 ? suffix.substr(tag.size()) : std::string_view();
  };
  const bool well_formed =
      (valid_resource_name(after("material:"), "-_") && after("material:").size() <= 128) ||
      (!after("rotated:").empty() && after("rotated:").size() <= 20 &&
       std::all_of(after("rotated:").begin(), after("rotated:").end(),
                   [](char c) { return c >= '0' && c <= '9'; }));
  return well_formed ? std::string(arn) : std::string();
}

bool valid_resource_name(std::string_view name, std::string_view extra) {
  return !name.empty() && name.size() <= 256 &&
         std::all_of(name.begin(), name.end(), [&](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                  extra.find(c) != std::string_view::npos;
         });
}

bool is_kms_arn(std::string_view s, std::string_view resource_type) {
  // arn:<partition>:kms:<region>:<12-digit account>:<type>/<id>
  std::string_view parts[6];
  for (int i = 0; i < 5; ++i) {
    const std::size_t colon = s.find(':');
    if (colon == std::string_view::npos) return false;
    parts[i] = s.substr(0, colon);
    s.remove_prefix(colon + 1);
  }
  parts[5] = s;
  const auto digits = [](std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const std::string prefix = std::string(resource_type) + "/";
  return parts[0] == "arn" && parts[1].rfind("aws", 0) == 0 && parts[2] == "kms" &&
         valid_resource_name(parts[3], "-") && parts[4].size() == 12 && digits(parts[4]) &&
         parts[5].rfind(prefix, 0) == 0 &&
         valid_resource_name(parts[5].substr(prefix.size()), "/_+=.@-");
}

std::string region_of_arn(std::string_view arn) {
  // arn:partition:kms:region:account:resource
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    pos = arn.find(':', pos);
    if (pos == std::string_view::npos) return {};
    ++pos;
  }
  const std::size_t end = arn.find(':', pos);
  return end == std::string_view::npos ? std::string() : std::string(arn.substr(pos, end - pos));
}

}  // namespace trousseau::providers::awskms
