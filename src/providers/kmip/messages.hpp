// The KMIP requests the provider sends and the parts of the responses it
// reads: Discover Versions, Locate (by name), Get Attributes, Encrypt and
// Decrypt, in protocol versions 1.2, 1.3, 1.4 and 2.0. No I/O.
//
// Every request is one Request Message: a Request Header (Protocol Version,
// optionally Maximum Response Size, Batch Count 1) and one Batch Item
// (Operation, Request Payload). No in-band Authentication: mutual TLS
// authenticates us.
//
// Builders append to `out`, so a caller whose request holds a secret (an
// Encrypt's Data is a share) keeps it in one buffer it wipes: encrypt() and
// decrypt() reserve their whole size first, so no reallocation leaves a
// copy of the data behind.
//
// Parsers take the whole response message and check, in order:
//  1. it decodes (ttlv.hpp's strict rules and limits);
//  2. it is a Response Message with a Response Header whose Batch Count is
//     1, and exactly one Batch Item;
//  3. the Batch Item's Operation is the one we asked for; it may be absent
//     only from a failure (servers report whole-message errors that way);
//  4. its Result Status is Success; otherwise the error that status_error()
//     gives;
//  5. the header's Protocol Version is the one we sent;
//  6. the Response Payload holds the fields the operation needs, with the
//     types the spec gives them.
// Malformed answers are Code::unavailable, "KMIP: malformed response: ...".
// Each parser takes the decoder's Limits: pass the ones the connection
// read the message with (message_size), so that the two agree.
// Results that are views borrow the response buffer: keep it alive while
// you use them, and wipe it when it held key material.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "providers/kmip/tags.hpp"
#include "providers/kmip/ttlv.hpp"

namespace trousseau::providers::kmip {

struct ProtocolVersion {
  int major = 1;
  int minor = 2;
  friend bool operator==(ProtocolVersion, ProtocolVersion) = default;
  friend auto operator<=>(ProtocolVersion, ProtocolVersion) = default;
};

/// "1.4".
std::string to_string(ProtocolVersion version);

/// The versions we speak, best first.
inline constexpr std::array<ProtocolVersion, 4> our_versions{{{2, 0}, {1, 4}, {1, 3}, {1, 2}}};

/// What goes in every Request Header. Converts from a ProtocolVersion, so
/// a call without a response size limit passes the version alone.
struct RequestHeader {
  RequestHeader(ProtocolVersion v, std::uint32_t max_response_size = 0)  // NOLINT: implicit by design
      : version(v), max_response_size(max_response_size) {}
  ProtocolVersion version;
  /// Maximum Response Size in bytes: the server fails the request (Response
  /// Too Large) rather than send more. 0: not sent.
  std::uint32_t max_response_size = 0;
};

// Discover Versions ---------------------------------------------------------

/// The header version a Discover Versions request is sent in: the oldest of
/// `ours`, the one a server is likeliest to read. `ours` is not empty.
ProtocolVersion discovery_version(std::span<const ProtocolVersion> ours);

/// Discover Versions listing `ours` (best first), sent in discovery_version(ours).
void discover_versions(Bytes& out, std::span<const ProtocolVersion> ours,
                       std::uint32_t max_response_size = 0);

/// The versions the server lists, in its order. The response must be in
/// discovery_version(ours).
Result<std::vector<ProtocolVersion>> parse_discover_versions(ByteView response,
                                                             std::span<const ProtocolVersion> ours,
                                                             const Limits& limits = {});

/// The first of `ours` that the server lists; Code::failed_precondition,
/// naming both lists, when there is none.
Result<ProtocolVersion> negotiate(std::span<const ProtocolVersion> ours,
                                  std::span<const ProtocolVersion> theirs);

// Locate --------------------------------------------------------------------

/// Locate the symmetric keys named `name` (Name Type Uninterpreted Text
/// String): Attribute structures in 1.x, an Attributes structure in 2.0.
void locate_by_name(Bytes& out, const RequestHeader& header, std::string_view name);

/// The Unique Identifiers found, possibly none.
Result<std::vector<std::string>> parse_locate(ByteView response, ProtocolVersion version,
                                              const Limits& limits = {});

// Get Attributes ------------------------------------------------------------

/// Get Attributes of `uid`, asking for Unique Identifier, Object Type,
/// Cryptographic Algorithm, Cryptographic Length, Cryptographic Usage Mask,
/// State and Name: by Attribute Name in 1.x, by Attribute Reference (the
/// attribute's tag) in 2.0.
void get_attributes(Bytes& out, const RequestHeader& header, std::string_view uid);

/// What the provider checks about its key before using it. A server may
/// leave out an attribute it does not have; the provider decides what it
/// requires.
struct KeyAttributes {
  std::string uid;
  std::optional<ObjectType> object_type;
  std::optional<CryptographicAlgorithm> algorithm;
  std::optional<std::int32_t> length;      ///< bits
  std::optional<std::int32_t> usage_mask;  ///< usage:: bits
  std::optional<State> state;
  std::vector<std::string> names;  ///< Name Values, in the server's order

  /// A canonical text of the attributes that name the key material, for the
  /// provider to hash into its key identity: the uid, object type,
  /// algorithm and length, each length-prefixed. State, usage mask and
  /// names are left out on purpose: an operator may deactivate, restrict or
  /// rename a key, and that must not change the identity of what it wrapped.
  std::string digest_input() const;
};

/// The attributes of `uid`. The payload's Unique Identifier must be `uid`.
/// Attributes we did not ask for are ignored; one we asked for with the
/// wrong type is malformed.
Result<KeyAttributes> parse_get_attributes(ByteView response, ProtocolVersion version,
                                           std::string_view uid, const Limits& limits = {});

// Encrypt and Decrypt ---------------------------------------------------------

/// AES with the key's server-side material.
struct CryptoParams {
  enum Mode { gcm, cbc } mode = gcm;
  std::size_t tag_length = 16;  ///< GCM only, bytes
  // CBC uses PKCS5 padding.
};

/// GCM's additional data and tag first appear in KMIP 1.4.
bool supports(ProtocolVersion version, const CryptoParams& params);

/// Encrypt `data` under `uid`. An empty `iv` asks the server to make one
/// (Random IV); `aad` is GCM only. Errors, before anything is appended:
/// Code::failed_precondition for GCM below 1.4, Code::invalid_argument for
/// additional data with CBC.
Error encrypt(Bytes& out, const RequestHeader& header, std::string_view uid,
              const CryptoParams& params, ByteView data, ByteView iv, ByteView aad);

/// Decrypt. `iv` is required, and for GCM `tag`; `aad` is GCM only. Errors,
/// before anything is appended: as encrypt(), plus Code::invalid_argument
/// for a missing IV, and Code::integrity for a GCM tag that is not
/// params.tag_length long (the wrapped data is not what we made).
Error decrypt(Bytes& out, const RequestHeader& header, std::string_view uid,
              const CryptoParams& params, ByteView data, ByteView iv, ByteView aad,
              ByteView tag);

/// An Encrypt response's fields; views into the response buffer.
struct EncryptResult {
  ByteView data;
  ByteView iv;   ///< the IV/Counter/Nonce the server returned (it must when we sent none), or empty
  ByteView tag;  ///< GCM: params.tag_length bytes; CBC: empty
};

/// Requires the Unique Identifier `uid`, Data, for GCM a tag of
/// params.tag_length bytes, and an IV when we sent none (`iv_sent` false).
Result<EncryptResult> parse_encrypt(ByteView response, ProtocolVersion version,
                                    std::string_view uid, const CryptoParams& params,
                                    bool iv_sent, const Limits& limits = {});

/// The plaintext: a view into `response`, which the caller wipes.
Result<ByteView> parse_decrypt(ByteView response, ProtocolVersion version, std::string_view uid,
                               const Limits& limits = {});

// Any response ----------------------------------------------------------------

/// Checks 2 to 5 above on a decoded message; the Response Payload (which
/// the operations we send always have) or the error.
Result<const Item*> response_payload(const Item& message, ProtocolVersion version,
                                     Operation operation);

/// The error a failed Batch Item means (Success is ok):
///  - Operation Pending or Undone: Code::unavailable (we send nothing async);
///  - Item Not Found: Code::failed_precondition (the key is not there);
///  - Permission Denied, Authentication Not Successful: permission_denied;
///  - Cryptographic Failure: Code::integrity for Decrypt (the data did not
///    authenticate), unavailable for the others;
///  - Wrong Key Lifecycle State, Invalid Field, Invalid Message, Operation
///    Not Supported, Feature Not Supported, Key Format Type Not Supported,
///    Key Compression Type Not Supported: failed_precondition (retrying
///    will not help until someone changes the key or the server);
///  - General Failure and anything else: unavailable.
/// The message names the operation and the reason and quotes the server's
/// Result Message (escaped, cut short), e.g.
/// `KMIP: Decrypt failed: Cryptographic Failure: "bad tag"`.
Error status_error(Operation operation, ResultStatus status, std::optional<std::uint32_t> reason,
                   std::string_view server_message);

std::string_view to_string(Operation operation);
/// The spec's name ("Item Not Found"), or "reason 0x…" for one we do not know.
std::string to_string(ResultReason reason);

}  // namespace trousseau::providers::kmip
