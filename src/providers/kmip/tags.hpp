// The KMIP tags and enumeration values Trousseau uses, by name. Values are
// the spec's (KMIP 1.4 section 9.1.3, 2.0 section 11); only what we send or
// read is here.
#pragma once

#include <cstdint>
#include <type_traits>

namespace trousseau::providers::kmip {

namespace tag {
inline constexpr std::uint32_t attribute = 0x420008;
inline constexpr std::uint32_t attribute_index = 0x420009;
inline constexpr std::uint32_t attribute_name = 0x42000A;
inline constexpr std::uint32_t attribute_value = 0x42000B;
inline constexpr std::uint32_t batch_count = 0x42000D;
inline constexpr std::uint32_t batch_item = 0x42000F;
inline constexpr std::uint32_t block_cipher_mode = 0x420011;
inline constexpr std::uint32_t cryptographic_algorithm = 0x420028;
inline constexpr std::uint32_t cryptographic_length = 0x42002A;
inline constexpr std::uint32_t cryptographic_parameters = 0x42002B;
inline constexpr std::uint32_t cryptographic_usage_mask = 0x42002C;
inline constexpr std::uint32_t iv_counter_nonce = 0x42003D;
inline constexpr std::uint32_t maximum_response_size = 0x420050;
inline constexpr std::uint32_t name = 0x420053;
inline constexpr std::uint32_t name_type = 0x420054;
inline constexpr std::uint32_t name_value = 0x420055;
inline constexpr std::uint32_t object_type = 0x420057;
inline constexpr std::uint32_t operation = 0x42005C;
inline constexpr std::uint32_t padding_method = 0x42005F;
inline constexpr std::uint32_t protocol_version = 0x420069;
inline constexpr std::uint32_t protocol_version_major = 0x42006A;
inline constexpr std::uint32_t protocol_version_minor = 0x42006B;
inline constexpr std::uint32_t request_header = 0x420077;
inline constexpr std::uint32_t request_message = 0x420078;
inline constexpr std::uint32_t request_payload = 0x420079;
inline constexpr std::uint32_t response_header = 0x42007A;
inline constexpr std::uint32_t response_message = 0x42007B;
inline constexpr std::uint32_t response_payload = 0x42007C;
inline constexpr std::uint32_t result_message = 0x42007D;
inline constexpr std::uint32_t result_reason = 0x42007E;
inline constexpr std::uint32_t result_status = 0x42007F;
inline constexpr std::uint32_t state = 0x42008D;
inline constexpr std::uint32_t time_stamp = 0x420092;
inline constexpr std::uint32_t unique_batch_item_id = 0x420093;
inline constexpr std::uint32_t unique_identifier = 0x420094;
inline constexpr std::uint32_t data = 0x4200C2;
inline constexpr std::uint32_t random_iv = 0x4200C5;
inline constexpr std::uint32_t tag_length = 0x4200CE;
inline constexpr std::uint32_t authenticated_encryption_additional_data = 0x4200FE;
inline constexpr std::uint32_t authenticated_encryption_tag = 0x4200FF;
inline constexpr std::uint32_t attributes = 0x420125;      ///< KMIP 2.0
inline constexpr std::uint32_t attribute_reference = 0x42013B;  ///< KMIP 2.0
}  // namespace tag

enum class Operation : std::uint32_t {
  locate = 0x08,
  get_attributes = 0x0B,
  discover_versions = 0x1E,
  encrypt = 0x1F,
  decrypt = 0x20,
};

enum class ResultStatus : std::uint32_t {
  success = 0x0,
  operation_failed = 0x1,
  operation_pending = 0x2,
  operation_undone = 0x3,
};

/// The reasons we tell apart (KMIP 1.4 section 9.1.3.2.29 and 2.0's
/// additions); any other value is carried as its number.
enum class ResultReason : std::uint32_t {
  item_not_found = 0x01,
  response_too_large = 0x02,
  authentication_not_successful = 0x03,
  invalid_message = 0x04,
  operation_not_supported = 0x05,
  missing_data = 0x06,
  invalid_field = 0x07,
  feature_not_supported = 0x08,
  operation_canceled_by_requester = 0x09,
  cryptographic_failure = 0x0A,
  illegal_operation = 0x0B,
  permission_denied = 0x0C,
  object_archived = 0x0D,
  index_out_of_bounds = 0x0E,
  application_namespace_not_supported = 0x0F,
  key_format_type_not_supported = 0x10,
  key_compression_type_not_supported = 0x11,
  encoding_option_error = 0x12,
  key_value_not_present = 0x13,
  attestation_required = 0x14,
  attestation_failed = 0x15,
  sensitive = 0x16,
  not_extractable = 0x17,
  object_already_exists = 0x18,
  wrong_key_lifecycle_state = 0x43,  ///< KMIP 2.0
  general_failure = 0x100,
};

enum class State : std::uint32_t {
  pre_active = 0x1,
  active = 0x2,
  deactivated = 0x3,
  compromised = 0x4,
  destroyed = 0x5,
  destroyed_compromised = 0x6,
};

enum class ObjectType : std::uint32_t { symmetric_key = 0x2 };
enum class CryptographicAlgorithm : std::uint32_t { aes = 0x3 };
enum class BlockCipherMode : std::uint32_t { cbc = 0x1, gcm = 0x9 };
enum class PaddingMethod : std::uint32_t { none = 0x1, pkcs5 = 0x3 };
enum class NameType : std::uint32_t { uninterpreted_text_string = 0x1 };

/// Cryptographic Usage Mask bits.
namespace usage {
inline constexpr std::int32_t encrypt = 0x4;
inline constexpr std::int32_t decrypt = 0x8;
}  // namespace usage

/// An enumeration's wire value.
template <typename E>
constexpr std::uint32_t value(E e) {
  static_assert(std::is_enum_v<E>);
  return static_cast<std::uint32_t>(e);
}

}  // namespace trousseau::providers::kmip
