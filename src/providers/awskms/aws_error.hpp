// AWS error responses (JSON for KMS, XML for STS) and what they mean to us.
#pragma once

#include <string>

#include "common/error.hpp"
#include "http/message.hpp"

namespace trousseau::providers::awskms {

struct AwsError {
  std::string type;     ///< "DisabledException", without any "namespace#" prefix
  std::string message;  ///< AWS's own text (never carries key material), at most 512 bytes
};

/// Reads the error type and message of a non-2xx AWS response: the JSON
/// "__type"/"message" (KMS), the XML <Code>/<Message> (STS), or the
/// x-amzn-ErrorType header.
AwsError parse_aws_error(const http::Response& response);

/// Throttling the client should retry: HTTP 429, or an error type such as
/// ThrottlingException in a 400.
bool aws_throttled(const http::Response& response);

/// Maps a non-2xx response of `operation` to an Error whose message is
/// `<operation>: <type>: "<AWS message, escaped>"`:
///  - InvalidCiphertextException, IncorrectKeyException → integrity (the
///    envelope's fault: it does not count against the provider's health);
///  - AccessDenied, UnrecognizedClient, InvalidSignature, expired or invalid
///    tokens → permission_denied;
///  - throttling that outlived the retries → resource_exhausted;
///  - DisabledException, KMSInvalidStateException, NotFoundException, 5xx
///    and anything else → unavailable.
Error map_aws_error(std::string_view operation, const http::Response& response);

/// The text between <tag> and </tag>, not unescaped; empty when the
/// element is missing, has attributes, or occurs more than once (an
/// ambiguous answer is no answer).
///
/// Why not a parser: we read two fixed, shallow documents from STS, over
/// verified TLS (the AssumeRoleWithWebIdentity answer and the Query API
/// error), each by a handful of element names. The maintained parsers in
/// Debian (tinyxml2; Boost.PropertyTree over rapidxml) copy the whole
/// document into heap buffers that they free unwiped, and the STS answer
/// carries the secret access key and the session token. This reader works
/// on views into the body, which its owner wipes. It is fuzzed with the
/// other parsers of remote input.
std::string_view xml_element(std::string_view xml, std::string_view tag);

}  // namespace trousseau::providers::awskms
