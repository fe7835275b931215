// What DescribeKey and ListKeyRotations tell us about the key, and the
// key identity built from it.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace trousseau::providers::awskms {

struct KeyMetadata {
  std::string arn;
  std::string state;     ///< KeyState: "Enabled", "Disabled", "PendingDeletion", …
  std::string material;  ///< CurrentKeyMaterialId, where AWS reports it (and it is well formed)
};

Result<KeyMetadata> parse_describe_key(std::string_view body);

/// The most recent RotationDate of a ListKeyRotations answer, in whole
/// seconds since the epoch, or "" when the key was never rotated.
std::string latest_rotation(std::string_view body);

/// "<key ARN>", "<key ARN>#material:<id>" or "<key ARN>#rotated:<epoch>":
/// changes when AWS starts encrypting under new key material.
std::string key_identity(const std::string& arn, const std::string& material,
                         const std::string& rotation);

/// The key ARN inside an identity (what Decrypt passes as KeyId), or ""
/// unless `identity` is exactly one of the three forms above: a key ARN,
/// optionally followed by "#material:<letters, digits, '-' or '_'>" or
/// "#rotated:<digits>".
std::string arn_of_identity(std::string_view identity);

/// Non-empty, at most 256 characters: letters, digits and `extra`.
bool valid_resource_name(std::string_view name, std::string_view extra);
/// arn:<partition>:kms:<region>:<account>:key/<id> (or alias/<name>).
bool is_kms_arn(std::string_view s, std::string_view resource_type);
/// The region field of a KMS ARN, or "".
std::string region_of_arn(std::string_view arn);

}  // namespace trousseau::providers::awskms
