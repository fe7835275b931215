#include "providers/kmip/messages.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "common/text.hpp"

namespace trousseau::providers::kmip {

namespace {

std::string hex32(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    const unsigned d = (v >> shift) & 0xF;
    if (d != 0 || started || shift == 0) {
      s += digits[d];
      started = true;
    }
  }
  return s;
}

// Writes a Request Message around one Batch Item; `payload` writes the
// Request Payload's fields.
template <typename WritePayload>
void request(Bytes& out, const RequestHeader& header, Operation operation, WritePayload&& payload) {
  Writer w(out);
  w.begin(tag::request_message);
  w.begin(tag::request_header);
  w.begin(tag::protocol_version);
  w.integer(tag::protocol_version_major, header.version.major);
  w.integer(tag::protocol_version_minor, header.version.minor);
  w.end();
  if (header.max_response_size != 0) {
    // An Integer on the wire: larger limits mean "as large as it gets".
    const auto max = std::min<std::uint32_t>(header.max_response_size,
                                             std::numeric_limits<std::int32_t>::max());
    w.integer(tag::maximum_response_size, static_cast<std::int32_t>(max));
  }
  w.integer(tag::batch_count, 1);
  w.end();
  w.begin(tag::batch_item);
  w.enumeration(tag::operation, value(operation));
  w.begin(tag::request_payload);
  payload(w);
  w.end();
  w.end();
  w.end();
  assert(w.open() == 0);
}

// Request overhead besides the variable fields: the header, the batch item
// and the cryptographic parameters come to well under this.
constexpr std::size_t kFixedOverhead = 512;

Error malformed(std::string_view what, const Item& where) {
  return unavailable("KMIP: malformed response: " + std::string(what) + " at offset " +
                     std::to_string(where.offset()));
}

// The child `tag` of `parent` as `type`: nullptr when absent (and !required),
// an error when required and absent or present with another type.
Result<const Item*> field(const Item& parent, std::uint32_t tag, Type type, std::string_view name,
                          bool required) {
  const Item* item = parent.find(tag);
  if (item == nullptr) {
    if (!required) return static_cast<const Item*>(nullptr);
    return malformed("no " + std::string(name), parent);
  }
  if (item->type() != type) return malformed(std::string(name) + " of the wrong type", *item);
  return item;
}

Result<ProtocolVersion> read_version(const Item& item) {
  if (item.type() != Type::structure) return malformed("Protocol Version of the wrong type", item);
  auto major = field(item, tag::protocol_version_major, Type::integer, "Protocol Version Major", true);
  if (!major.ok()) return major.error();
  auto minor = field(item, tag::protocol_version_minor, Type::integer, "Protocol Version Minor", true);
  if (!minor.ok()) return minor.error();
  return ProtocolVersion{*(*major)->integer(), *(*minor)->integer()};
}

Result<const Item*> decode_payload(ByteView response, const Limits& limits, Item& message,
                                   ProtocolVersion version, Operation operation) {
  Result<Item> decoded = decode(response, limits);
  if (!decoded.ok()) return decoded.error();
  message = std::move(decoded).value();
  return response_payload(message, version, operation);
}

// The payload's Unique Identifier, which must be the one we asked about.
Error check_uid(const Item& payload, std::string_view uid) {
  auto found = field(payload, tag::unique_identifier, Type::text_string, "Unique Identifier", true);
  if (!found.ok()) return found.error();
  if (*(*found)->text() != uid) {
    return unavailable("KMIP: the server answered about object " + quote(*(*found)->text(), 80) +
                       " when asked about " + quote(uid, 80));
  }
  return {};
}

void write_version(Writer& w, ProtocolVersion v) {
  w.begin(tag::protocol_version);
  w.integer(tag::protocol_version_major, v.major);
  w.integer(tag::protocol_version_minor, v.minor);
  w.end();
}

void write_name(Writer& w, std::uint32_t tag, std::string_view name) {
  w.begin(tag);
  w.text(tag::name_value, name);
  w.enumeration(tag::name_type, value(NameType::uninterpreted_text_string));
  w.end();
}

// The attributes Get Attributes asks for, by their 1.x names and 2.0 tags.
struct WantedAttribute {
  std::string_view name;
  std::uint32_t tag;
};
constexpr std::array<WantedAttribute, 7> kWanted{{
    {"Unique Identifier", tag::unique_identifier},
    {"Object Type", tag::object_type},
    {"Cryptographic Algorithm", tag::cryptographic_algorithm},
    {"Cryptographic Length", tag::cryptographic_length},
    {"Cryptographic Usage Mask", tag::cryptographic_usage_mask},
    {"State", tag::state},
    {"Name", tag::name},
}};

// Reads one attribute value (the 2.0 item, or 1.x's Attribute Value) into
// `out`; `which` is the attribute's tag. Attributes we did not ask for are
// ignored.
Error read_attribute(std::uint32_t which, const Item& v, std::string_view uid, KeyAttributes& out) {
  auto wrong = [&](std::string_view name) { return malformed(std::string(name) + " of the wrong type", v); };
  switch (which) {
    case tag::unique_identifier:
      if (!v.text()) return wrong("Unique Identifier");
      if (*v.text() != uid) return malformed("Unique Identifier attribute of another object", v);
      return {};
    case tag::object_type:
      if (!v.enumeration()) return wrong("Object Type");
      out.object_type = static_cast<ObjectType>(*v.enumeration());
      return {};
    case tag::cryptographic_algorithm:
      if (!v.enumeration()) return wrong("Cryptographic Algorithm");
      out.algorithm = static_cast<CryptographicAlgorithm>(*v.enumeration());
      return {};
    case tag::cryptographic_length:
      if (!v.integer()) return wrong("Cryptographic Length");
      out.length = *v.integer();
      return {};
    case tag::cryptographic_usage_mask:
      if (!v.integer()) return wrong("Cryptographic Usage Mask");
      out.usage_mask = *v.integer();
      return {};
    case tag::state:
      if (!v.enumeration()) return wrong("State");
      out.state = static_cast<State>(*v.enumeration());
      return {};
    case tag::name: {
      if (v.type() != Type::structure) return wrong("Name");
      auto name = field(v, tag::name_value, Type::text_string, "Name Value", true);
      if (!name.ok()) return name.error();
      out.names.emplace_back(*(*name)->text());
      return {};
    }
    default:
      return {};
  }
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += ' ';
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += '\n';
}

template <typename E>
std::string optional_number(const std::optional<E>& v) {
  if (!v) return "-";
  if constexpr (std::is_enum_v<E>) {
    return std::to_string(value(*v));
  } else {
    return std::to_string(*v);
  }
}

Error check_crypto(ProtocolVersion version, const CryptoParams& params, ByteView aad) {
  if (!supports(version, params)) {
    return Error(Code::failed_precondition,
                 "KMIP: AES-GCM needs protocol 1.4 or later, and this server speaks " +
                     to_string(version));
  }
  if (params.mode == CryptoParams::cbc && !aad.empty()) {
    return invalid_argument("KMIP: additional authenticated data needs AES-GCM, not CBC");
  }
  return {};
}

void write_crypto_parameters(Writer& w, const CryptoParams& params, bool random_iv) {
  // The spec's field order; PyKMIP reads them in this order.
  w.begin(tag::cryptographic_parameters);
  if (params.mode == CryptoParams::gcm) {
    w.enumeration(tag::block_cipher_mode, value(BlockCipherMode::gcm));
  } else {
    w.enumeration(tag::block_cipher_mode, value(BlockCipherMode::cbc));
    w.enumeration(tag::padding_method, value(PaddingMethod::pkcs5));
  }
  w.enumeration(tag::cryptographic_algorithm, value(CryptographicAlgorithm::aes));
  if (random_iv) w.boolean(tag::random_iv, true);
  if (params.mode == CryptoParams::gcm) {
    w.integer(tag::tag_length, static_cast<std::int32_t>(params.tag_length));
  }
  w.end();
}

}  // namespace

std::string to_string(ProtocolVersion version) {
  return std::to_string(version.major) + "." + std::to_string(version.minor);
}

std::string_view to_string(Operation operation) {
  switch (operation) {
    case Operation::locate: return "Locate";
    case Operation::get_attributes: return "Get Attributes";
    case Operation::discover_versions: return "Discover Versions";
    case Operation::encrypt: return "Encrypt";
    case Operation::decrypt: return "Decrypt";
  }
  return "an operation";
}

std::string to_string(ResultReason reason) {
  switch (reason) {
    case ResultReason::item_not_found: return "Item Not Found";
    case ResultReason::response_too_large: return "Response Too Large";
    case ResultReason::authentication_not_successful: return "Authentication Not Successful";
    case ResultReason::invalid_message: return "Invalid Message";
    case ResultReason::operation_not_supported: return "Operation Not Supported";
    case ResultReason::missing_data: return "Missing Data";
    case ResultReason::invalid_field: return "Invalid Field";
    case ResultReason::feature_not_supported: return "Feature Not Supported";
    case ResultReason::operation_canceled_by_requester: return "Operation Canceled By Requester";
    case ResultReason::cryptographic_failure: return "Cryptographic Failure";
    case ResultReason::illegal_operation: return "Illegal Operation";
    case ResultReason::permission_denied: return "Permission Denied";
    case ResultReason::object_archived: return "Object Archived";
    case ResultReason::index_out_of_bounds: return "Index Out Of Bounds";
    case ResultReason::application_namespace_not_supported: return "Application Namespace Not Supported";
    case ResultReason::key_format_type_not_supported: return "Key Format Type Not Supported";
    case ResultReason::key_compression_type_not_supported: return "Key Compression Type Not Supported";
    case ResultReason::encoding_option_error: return "Encoding Option Error";
    case ResultReason::key_value_not_present: return "Key Value Not Present";
    case ResultReason::attestation_required: return "Attestation Required";
    case ResultReason::attestation_failed: return "Attestation Failed";
    case ResultReason::sensitive: return "Sensitive";
    case ResultReason::not_extractable: return "Not Extractable";
    case ResultReason::object_already_exists: return "Object Already Exists";
    case ResultReason::wrong_key_lifecycle_state: return "Wrong Key Lifecycle State";
    case ResultReason::general_failure: return "General Failure";
  }
  return "reason " + hex32(value(reason));
}

Error status_error(Operation operation, ResultStatus status, std::optional<std::uint32_t> reason,
                   std::string_view server_message) {
  if (status == ResultStatus::success) return {};
  const std::string op(to_string(operation));
  std::string said;
  if (!server_message.empty()) said = ": " + quote(server_message, 200);
  if (status == ResultStatus::operation_pending || status == ResultStatus::operation_undone) {
    return unavailable("KMIP: " + op + " answered " +
                       (status == ResultStatus::operation_pending ? "Operation Pending"
                                                                  : "Operation Undone") +
                       ", and we make no asynchronous requests" + said);
  }
  if (status != ResultStatus::operation_failed) {
    return unavailable("KMIP: " + op + " answered the unknown Result Status " +
                       hex32(value(status)) + said);
  }
  if (!reason) return unavailable("KMIP: " + op + " failed, for no reason given" + said);
  const auto r = static_cast<ResultReason>(*reason);
  Code code = Code::unavailable;
  switch (r) {
    case ResultReason::item_not_found:
    case ResultReason::wrong_key_lifecycle_state:
    case ResultReason::invalid_field:
    case ResultReason::invalid_message:
    case ResultReason::operation_not_supported:
    case ResultReason::feature_not_supported:
    case ResultReason::key_format_type_not_supported:
    case ResultReason::key_compression_type_not_supported:
      code = Code::failed_precondition;
      break;
    case ResultReason::permission_denied:
    case ResultReason::authentication_not_successful:
      code = Code::permission_denied;
      break;
    case ResultReason::cryptographic_failure:
      code = operation == Operation::decrypt ? Code::integrity : Code::unavailable;
      break;
    default:
      code = Code::unavailable;
  }
  return Error(code, "KMIP: " + op + " failed: " + to_string(r) + said);
}

Result<const Item*> response_payload(const Item& message, ProtocolVersion version,
                                     Operation operation) {
  if (message.tag() != tag::response_message || message.type() != Type::structure) {
    return malformed("not a Response Message", message);
  }
  auto header = field(message, tag::response_header, Type::structure, "Response Header", true);
  if (!header.ok()) return header.error();
  auto count = field(**header, tag::batch_count, Type::integer, "Batch Count", true);
  if (!count.ok()) return count.error();
  if (*(*count)->integer() != 1) {
    return malformed("Batch Count " + std::to_string(*(*count)->integer()) + ", expected 1", **count);
  }
  const std::vector<const Item*> items = message.find_all(tag::batch_item);
  if (items.size() != 1) {
    return malformed(std::to_string(items.size()) + " Batch Items, expected 1", message);
  }
  const Item& item = *items[0];
  if (item.type() != Type::structure) return malformed("Batch Item of the wrong type", item);

  auto op = field(item, tag::operation, Type::enumeration, "Operation", false);
  if (!op.ok()) return op.error();
  if (*op != nullptr && *(*op)->enumeration() != value(operation)) {
    return malformed("Operation " + hex32(*(*op)->enumeration()) + " in the answer to " +
                         std::string(to_string(operation)),
                     **op);
  }
  auto status = field(item, tag::result_status, Type::enumeration, "Result Status", true);
  if (!status.ok()) return status.error();
  auto reason = field(item, tag::result_reason, Type::enumeration, "Result Reason", false);
  if (!reason.ok()) return reason.error();
  auto said = field(item, tag::result_message, Type::text_string, "Result Message", false);
  if (!said.ok()) return said.error();
  const auto result = static_cast<ResultStatus>(*(*status)->enumeration());
  if (result != ResultStatus::success) {
    return status_error(operation, result,
                        *reason != nullptr ? (*reason)->enumeration() : std::nullopt,
                        *said != nullptr ? *(*said)->text() : std::string_view());
  }

  auto theirs = field(**header, tag::protocol_version, Type::structure, "Protocol Version", true);
  if (!theirs.ok()) return theirs.error();
  Result<ProtocolVersion> answered = read_version(**theirs);
  if (!answered.ok()) return answered.error();
  if (*answered != version) {
    return unavailable("KMIP: the server answered in protocol " + to_string(*answered) +
                       " to a request in " + to_string(version));
  }
  if (*op == nullptr) return malformed("no Operation in a successful Batch Item", item);
  return field(item, tag::response_payload, Type::structure, "Response Payload", true);
}

// Discover Versions ---------------------------------------------------------

ProtocolVersion discovery_version(std::span<const ProtocolVersion> ours) {
  assert(!ours.empty());
  return *std::min_element(ours.begin(), ours.end());
}

void discover_versions(Bytes& out, std::span<const ProtocolVersion> ours,
                       std::uint32_t max_response_size) {
  request(out, RequestHeader(discovery_version(ours), max_response_size),
          Operation::discover_versions, [&](Writer& w) {
            for (ProtocolVersion v : ours) write_version(w, v);
          });
}

Result<std::vector<ProtocolVersion>> parse_discover_versions(ByteView response,
                                                             std::span<const ProtocolVersion> ours,
                                                             const Limits& limits) {
  Item message;
  auto payload = decode_payload(response, limits, message, discovery_version(ours),
                                Operation::discover_versions);
  if (!payload.ok()) return payload.error();
  std::vector<ProtocolVersion> theirs;
  for (const Item* v : (*payload)->find_all(tag::protocol_version)) {
    Result<ProtocolVersion> version = read_version(*v);
    if (!version.ok()) return version.error();
    theirs.push_back(*version);
  }
  return theirs;
}

Result<ProtocolVersion> negotiate(std::span<const ProtocolVersion> ours,
                                  std::span<const ProtocolVersion> theirs) {
  for (ProtocolVersion v : ours) {
    if (std::find(theirs.begin(), theirs.end(), v) != theirs.end()) return v;
  }
  auto list = [](std::span<const ProtocolVersion> vs) {
    std::vector<std::string> names;
    for (ProtocolVersion v : vs) names.push_back(to_string(v));
    return names.empty() ? std::string("none") : join(names);
  };
  return Error(Code::failed_precondition, "KMIP: no protocol version in common (ours: " +
                                              list(ours) + "; the server's: " + list(theirs) + ")");
}

// Locate --------------------------------------------------------------------

void locate_by_name(Bytes& out, const RequestHeader& header, std::string_view name) {
  request(out, header, Operation::locate, [&](Writer& w) {
    if (header.version.major >= 2) {
      w.begin(tag::attributes);
      w.enumeration(tag::object_type, value(ObjectType::symmetric_key));
      write_name(w, tag::name, name);
      w.end();
    } else {
      w.begin(tag::attribute);
      w.text(tag::attribute_name, "Object Type");
      w.enumeration(tag::attribute_value, value(ObjectType::symmetric_key));
      w.end();
      w.begin(tag::attribute);
      w.text(tag::attribute_name, "Name");
      write_name(w, tag::attribute_value, name);
      w.end();
    }
  });
}

Result<std::vector<std::string>> parse_locate(ByteView response, ProtocolVersion version,
                                              const Limits& limits) {
  Item message;
  auto payload = decode_payload(response, limits, message, version, Operation::locate);
  if (!payload.ok()) return payload.error();
  std::vector<std::string> uids;
  for (const Item* uid : (*payload)->find_all(tag::unique_identifier)) {
    if (!uid->text()) return malformed("Unique Identifier of the wrong type", *uid);
    uids.emplace_back(*uid->text());
  }
  return uids;
}

// Get Attributes ------------------------------------------------------------

void get_attributes(Bytes& out, const RequestHeader& header, std::string_view uid) {
  request(out, header, Operation::get_attributes, [&](Writer& w) {
    w.text(tag::unique_identifier, uid);
    for (const WantedAttribute& a : kWanted) {
      if (header.version.major >= 2) {
        w.enumeration(tag::attribute_reference, a.tag);
      } else {
        w.text(tag::attribute_name, a.name);
      }
    }
  });
}

Result<KeyAttributes> parse_get_attributes(ByteView response, ProtocolVersion version,
                                           std::string_view uid, const Limits& limits) {
  Item message;
  auto payload = decode_payload(response, limits, message, version, Operation::get_attributes);
  if (!payload.ok()) return payload.error();
  if (Error e = check_uid(**payload, uid); !e.ok()) return e;
  KeyAttributes attributes;
  attributes.uid = std::string(uid);
  if (version.major >= 2) {
    auto all = field(**payload, tag::attributes, Type::structure, "Attributes", false);
    if (!all.ok()) return all.error();
    if (*all == nullptr) return attributes;
    for (const Item& a : (*all)->children()) {
      if (Error e = read_attribute(a.tag(), a, uid, attributes); !e.ok()) return e;
    }
    return attributes;
  }
  for (const Item* a : (*payload)->find_all(tag::attribute)) {
    if (a->type() != Type::structure) return malformed("Attribute of the wrong type", *a);
    auto name = field(*a, tag::attribute_name, Type::text_string, "Attribute Name", true);
    if (!name.ok()) return name.error();
    const auto wanted = std::find_if(kWanted.begin(), kWanted.end(), [&](const WantedAttribute& w) {
      return w.name == *(*name)->text();
    });
    if (wanted == kWanted.end()) continue;
    const Item* v = a->find(tag::attribute_value);
    if (v == nullptr) return malformed("no Attribute Value", *a);
    if (Error e = read_attribute(wanted->tag, *v, uid, attributes); !e.ok()) return e;
  }
  return attributes;
}

std::string KeyAttributes::digest_input() const {
  std::string out = "kmip-key-attributes-v1\n";
  append_field(out, "uid", uid);
  append_field(out, "object_type", optional_number(object_type));
  append_field(out, "algorithm", optional_number(algorithm));
  append_field(out, "length", optional_number(length));
  return out;
}

// Encrypt and Decrypt ---------------------------------------------------------

bool supports(ProtocolVersion version, const CryptoParams& params) {
  return params.mode != CryptoParams::gcm || version >= ProtocolVersion{1, 4};
}

Error encrypt(Bytes& out, const RequestHeader& header, std::string_view uid,
              const CryptoParams& params, ByteView data, ByteView iv, ByteView aad) {
  if (Error e = check_crypto(header.version, params, aad); !e.ok()) return e;
  out.reserve(out.size() + kFixedOverhead + encoded_size(uid.size()) + encoded_size(data.size()) +
              encoded_size(iv.size()) + encoded_size(aad.size()));
  [[maybe_unused]] const std::size_t capacity = out.capacity();
  request(out, header, Operation::encrypt, [&](Writer& w) {
    w.text(tag::unique_identifier, uid);
    write_crypto_parameters(w, params, iv.empty());
    w.bytes(tag::data, data);
    if (!iv.empty()) w.bytes(tag::iv_counter_nonce, iv);
    if (!aad.empty()) w.bytes(tag::authenticated_encryption_additional_data, aad);
  });
  assert(out.capacity() == capacity);  // no copy of `data` left behind
  return {};
}

Error decrypt(Bytes& out, const RequestHeader& header, std::string_view uid,
              const CryptoParams& params, ByteView data, ByteView iv, ByteView aad,
              ByteView tag) {
  if (Error e = check_crypto(header.version, params, aad); !e.ok()) return e;
  if (iv.empty()) return invalid_argument("KMIP: Decrypt needs the IV/Counter/Nonce");
  if (params.mode == CryptoParams::gcm && tag.size() != params.tag_length) {
    return integrity_error("KMIP: an AES-GCM tag of " + std::to_string(tag.size()) +
                           " bytes, expected " + std::to_string(params.tag_length));
  }
  out.reserve(out.size() + kFixedOverhead + encoded_size(uid.size()) + encoded_size(data.size()) +
              encoded_size(iv.size()) + encoded_size(aad.size()) + encoded_size(tag.size()));
  [[maybe_unused]] const std::size_t capacity = out.capacity();
  request(out, header, Operation::decrypt, [&](Writer& w) {
    w.text(tag::unique_identifier, uid);
    write_crypto_parameters(w, params, false);
    w.bytes(tag::data, data);
    w.bytes(tag::iv_counter_nonce, iv);
    if (!aad.empty()) w.bytes(tag::authenticated_encryption_additional_data, aad);
    if (params.mode == CryptoParams::gcm) w.bytes(tag::authenticated_encryption_tag, tag);
  });
  assert(out.capacity() == capacity);
  return {};
}

Result<EncryptResult> parse_encrypt(ByteView response, ProtocolVersion version,
                                    std::string_view uid, const CryptoParams& params,
                                    bool iv_sent, const Limits& limits) {
  Item message;
  auto payload = decode_payload(response, limits, message, version, Operation::encrypt);
  if (!payload.ok()) return payload.error();
  if (Error e = check_uid(**payload, uid); !e.ok()) return e;
  auto data = field(**payload, tag::data, Type::byte_string, "Data", true);
  if (!data.ok()) return data.error();
  auto iv = field(**payload, tag::iv_counter_nonce, Type::byte_string, "IV/Counter/Nonce", !iv_sent);
  if (!iv.ok()) return iv.error();
  const bool gcm = params.mode == CryptoParams::gcm;
  auto tag = field(**payload, tag::authenticated_encryption_tag, Type::byte_string,
                   "Authenticated Encryption Tag", gcm);
  if (!tag.ok()) return tag.error();
  EncryptResult result;
  result.data = *(*data)->bytes();
  if (*iv != nullptr) result.iv = *(*iv)->bytes();
  if (gcm) {
    result.tag = *(*tag)->bytes();
    if (result.tag.size() != params.tag_length) {
      return malformed("Authenticated Encryption Tag of " + std::to_string(result.tag.size()) +
                           " bytes, expected " + std::to_string(params.tag_length),
                       **tag);
    }
  }
  return result;
}

Result<ByteView> parse_decrypt(ByteView response, ProtocolVersion version, std::string_view uid,
                               const Limits& limits) {
  Item message;
  auto payload = decode_payload(response, limits, message, version, Operation::decrypt);
  if (!payload.ok()) return payload.error();
  if (Error e = check_uid(**payload, uid); !e.ok()) return e;
  auto data = field(**payload, tag::data, Type::byte_string, "Data", true);
  if (!data.ok()) return data.error();
  return *(*data)->bytes();
}

}  // namespace trousseau::providers::kmip
