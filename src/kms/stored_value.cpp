#include "kms/stored_value.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "common/text.hpp"
#include "kms/kubernetes_limits.hpp"
#include "kmsv2_storage.pb.h"

namespace trousseau::kms {

namespace {

bool starts_with(ByteView value, std::string_view prefix) {
  return value.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), value.begin(),
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

/// Why a value without a KMS prefix is not ours, as precisely as we can tell.
Error not_a_kms_value(ByteView value) {
  const StorageClass c = classify_stored_value(value);
  if (c.storage == Storage::identity) {
    if (starts_with(value, std::string_view("k8s\0", 4))) {
      return invalid_argument("an unencrypted Kubernetes object (protobuf, no k8s:enc: prefix)");
    }
    return invalid_argument("not a value kube-apiserver encrypted (no k8s:enc: prefix)");
  }
  return invalid_argument("encrypted by kube-apiserver's " + quote(c.transformer, 32) +
                          " transformer, not by a KMS provider");
}

Result<StoredValue> parse_v1(StoredValue out, ByteView rest) {
  // A 2-byte big-endian length, the encrypted DEK, then the encrypted data.
  if (rest.size() < 2) {
    return invalid_argument("KMS v1 value truncated: no DEK length after the prefix");
  }
  const std::size_t length = (std::size_t{rest[0]} << 8) | rest[1];
  rest = rest.subspan(2);
  if (length == 0) return invalid_argument("KMS v1 value has an empty encrypted DEK");
  if (length > rest.size()) {
    return invalid_argument("KMS v1 value truncated: the encrypted DEK claims " +
                            std::to_string(length) + " bytes, " + std::to_string(rest.size()) +
                            " follow");
  }
  out.encrypted_dek.assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(length));
  out.encrypted_data.assign(rest.begin() + static_cast<std::ptrdiff_t>(length), rest.end());
  return out;
}

Result<StoredValue> parse_v2(StoredValue out, ByteView rest) {
  ::kmsv2::storage::EncryptedObject object;
  if (rest.empty() || !object.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) {
    return invalid_argument("KMS v2 value: malformed EncryptedObject after the prefix");
  }
  out.encrypted_dek.assign(object.encrypteddeksource().begin(), object.encrypteddeksource().end());
  out.encrypted_data.assign(object.encrypteddata().begin(), object.encrypteddata().end());
  out.key_id = object.keyid();
  for (const auto& entry : object.annotations()) {
    // A map entry repeated on the wire: the last one wins, as in a map.
    out.annotations.insert_or_assign(entry.key(), to_bytes(entry.value()));
  }
  out.dek_source_type = static_cast<std::uint32_t>(object.encrypteddeksourcetype());
  return out;
}

}  // namespace

StorageClass classify_stored_value(ByteView value) {
  StorageClass out;
  if (!starts_with(value, kEncryptedValuePrefix)) {
    out.storage = Storage::identity;
    return out;
  }
  // k8s:enc:<transformer>:<version>:<name>:<data>
  std::string_view rest = as_chars(value).substr(kEncryptedValuePrefix.size());
  const auto next = [&rest]() -> std::optional<std::string_view> {
    const std::size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view part = rest.substr(0, colon);
    rest.remove_prefix(colon + 1);
    return part;
  };
  const auto transformer = next();
  out.transformer = std::string(transformer.value_or(rest.substr(0, 32)));
  const auto version = next();
  const auto name = version ? next() : std::nullopt;
  if (!transformer || !version || !name) return out;
  out.name = std::string(*name);
  static const std::map<std::pair<std::string_view, std::string_view>, Storage> known = {
      {{"aescbc", "v1"}, Storage::aescbc},   {{"aesgcm", "v1"}, Storage::aesgcm},
      {{"secretbox", "v1"}, Storage::secretbox}, {{"kms", "v1"}, Storage::kms_v1},
      {{"kms", "v2"}, Storage::kms_v2}};
  const auto it = known.find({*transformer, *version});
  if (it != known.end()) out.storage = it->second;
  return out;
}

std::string_view to_string(Storage storage) {
  switch (storage) {
    case Storage::identity: return "identity";
    case Storage::aescbc: return "aescbc";
    case Storage::aesgcm: return "aesgcm";
    case Storage::secretbox: return "secretbox";
    case Storage::kms_v1: return "kms v1";
    case Storage::kms_v2: return "kms v2";
    case Storage::unknown: return "unknown";
  }
  return "unknown";
}

Result<StoredValue> parse_stored_value(ByteView value) {
  StoredValue out;
  std::string_view prefix;
  if (starts_with(value, kStoredV2Prefix)) {
    out.api = StoredApi::v2;
    prefix = kStoredV2Prefix;
  } else if (starts_with(value, kStoredV1Prefix)) {
    out.api = StoredApi::v1;
    prefix = kStoredV1Prefix;
  } else if (starts_with(value, "k8s:enc:kms:")) {
    const std::string_view rest = as_chars(value).substr(std::string_view("k8s:enc:kms:").size());
    return invalid_argument("unknown KMS storage version " +
                            quote(rest.substr(0, rest.find(':')), 16) + " (known: v1, v2)");
  } else {
    return not_a_kms_value(value);
  }
  const std::string_view after = as_chars(value).substr(prefix.size());
  const std::size_t colon = after.find(':');
  if (colon == std::string_view::npos) {
    return invalid_argument("the provider name after " + std::string(prefix) +
                            " is not terminated by ':'");
  }
  if (colon == 0) return invalid_argument("empty provider name after " + std::string(prefix));
  out.provider = std::string(after.substr(0, colon));
  const ByteView rest = value.subspan(prefix.size() + colon + 1);
  return out.api == StoredApi::v1 ? parse_v1(std::move(out), rest) : parse_v2(std::move(out), rest);
}

Error check_stored_value(const StoredValue& value) {
  if (value.api == StoredApi::v1) return {};
  if (value.encrypted_data.empty()) return invalid_argument("encryptedData is empty");
  if (value.dek_source_type != kDekSourceAesGcmKey && value.dek_source_type != kDekSourceHkdfSeed) {
    return invalid_argument("unknown encryptedDEKSourceType " +
                            std::to_string(value.dek_source_type));
  }
  std::map<std::string, std::string> annotations;
  for (const auto& [k, v] : value.annotations) annotations.emplace(k, std::string(as_chars(v)));
  Error e = check_v2_encrypt_response(std::string(as_chars(value.encrypted_dek)), value.key_id,
                                      annotations);
  if (!e.ok()) return invalid_argument(e.message());
  return {};
}

std::string dek_source_type_name(std::uint32_t type) {
  if (type == kDekSourceAesGcmKey) return "AES_GCM_KEY";
  if (type == kDekSourceHkdfSeed) return "HKDF_SHA256_XNONCE_AES_GCM_SEED";
  return "unknown (" + std::to_string(type) + ")";
}

}  // namespace trousseau::kms
