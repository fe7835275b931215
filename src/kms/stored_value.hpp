// What kube-apiserver stores in etcd for a KMS provider around our
// envelope: its prefix and, for KMS v2, the EncryptedObject message
// (proto/kmsv2_storage.proto). docs/cli.md lays both forms out byte for
// byte. Read by `trousseau inspect`, and by anything else that audits etcd.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "envelope/format.hpp"

namespace trousseau::kms {

/// Every value an encrypting transformer wrote starts with this.
inline constexpr std::string_view kEncryptedValuePrefix = "k8s:enc:";
/// apiserver's prefixes for KMS providers; the provider's name (from the
/// EncryptionConfiguration) and ':' follow.
inline constexpr std::string_view kStoredV1Prefix = "k8s:enc:kms:v1:";
inline constexpr std::string_view kStoredV2Prefix = "k8s:enc:kms:v2:";

enum class StoredApi { v1, v2 };

/// How kube-apiserver stored a value, read from its first bytes alone.
enum class Storage {
  identity,   ///< no k8s:enc: prefix: stored as is (protobuf "k8s\0", or JSON)
  aescbc,     ///< k8s:enc:aescbc:v1:<key name>:
  aesgcm,     ///< k8s:enc:aesgcm:v1:<key name>:
  secretbox,  ///< k8s:enc:secretbox:v1:<key name>:
  kms_v1,     ///< k8s:enc:kms:v1:<provider name>:
  kms_v2,     ///< k8s:enc:kms:v2:<provider name>:
  unknown,    ///< k8s:enc: and a transformer or version apiserver does not write
};

struct StorageClass {
  Storage storage = Storage::unknown;
  /// The transformer as the prefix spells it ("aescbc", "kms"), "" for identity.
  std::string transformer;
  /// The key's name (aescbc, aesgcm, secretbox) or the KMS provider's name
  /// from the EncryptionConfiguration; "" when the prefix has none.
  std::string name;
};

/// Classifies `value` by its prefix: cheap, and total (every input has a
/// class). Says nothing about whether the rest parses.
StorageClass classify_stored_value(ByteView value);

/// "identity", "aescbc", "aesgcm", "secretbox", "kms v1", "kms v2", "unknown".
std::string_view to_string(Storage storage);

/// EncryptedDEKSourceType values (v2): how apiserver turns the plaintext
/// of the envelope into the key that sealed the object.
inline constexpr std::uint32_t kDekSourceAesGcmKey = 0;
inline constexpr std::uint32_t kDekSourceHkdfSeed = 1;

struct StoredValue {
  StoredApi api = StoredApi::v2;
  std::string provider;  ///< the kms provider's name in the EncryptionConfiguration
  Bytes encrypted_dek;   ///< what the plugin's Encrypt returned: our envelope
  Bytes encrypted_data;  ///< the object itself, sealed by apiserver
  // KMS v2 only.
  std::string key_id;                 ///< the plugin's key_id at Encrypt
  envelope::Annotations annotations;  ///< the plugin's annotations
  std::uint32_t dek_source_type = kDekSourceAesGcmKey;
};

/// Splits a stored value into its parts. Fails with Code::invalid_argument
/// and a message naming what is wrong: no KMS prefix (saying what the value
/// is instead when it can tell: unencrypted, or another transformer's), an
/// unterminated provider name, a truncated v1 length prefix, a malformed
/// EncryptedObject. Nothing is authenticated here, and nothing about the
/// envelope is checked (envelope::parse does that).
Result<StoredValue> parse_stored_value(ByteView value);

/// The rules apiserver applies to a v2 value it reads back (the same as
/// for an Encrypt response, plus non-empty data and a known DEK source
/// type). Always ok for v1.
Error check_stored_value(const StoredValue& value);

/// "AES_GCM_KEY", "HKDF_SHA256_XNONCE_AES_GCM_SEED", or "unknown (<n>)".
std::string dek_source_type_name(std::uint32_t type);

}  // namespace trousseau::kms
