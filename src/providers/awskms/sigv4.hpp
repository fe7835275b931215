// AWS Signature Version 4 for request headers (not presigned URLs).
//
// Inputs are taken as they go on the wire: the path and query already
// percent-encoded (or raw, for the published test vectors), which the
// canonical form decodes and re-encodes. The path is normalised (dot
// segments and repeated slashes removed) and encoded once more, as AWS
// requires for every service but S3.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"
#include "providers/awskms/credentials.hpp"

namespace trousseau::providers::awskms::sigv4 {

/// RFC 3986 unreserved characters stay, every other byte becomes %XX.
std::string uri_encode(std::string_view bytes, bool keep_slash);
std::string canonical_path(std::string_view wire_path);
std::string canonical_query(std::string_view wire_query);

struct Canonical {
  std::string request;
  std::string signed_headers;  ///< "host;x-amz-date"
};

/// Lower-cased names, sorted; values trimmed with inner runs of blanks
/// collapsed; repeated headers joined by ','. Hop-by-hop and tracing
/// headers (user-agent, expect, transfer-encoding, x-amzn-trace-id) and
/// any Authorization header are left out.
Canonical canonical_request(std::string_view method, std::string_view wire_path,
                            std::string_view wire_query, const std::vector<http::Header>& headers,
                            std::string_view payload);

/// "20150830T123600Z"
std::string amz_date(WallClock::time_point t);

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
SecretBytes signing_key(const SecretBytes& secret, std::string_view date,
                        std::string_view region, std::string_view service);

/// Adds X-Amz-Date (and X-Amz-Security-Token for session credentials) to
/// `headers`, signs, and returns the Authorization header value.
std::string sign(std::string_view method, std::string_view wire_path, std::string_view wire_query,
                 std::vector<http::Header>& headers, std::string_view payload,
                 const Credentials& credentials, std::string_view region,
                 std::string_view service, WallClock::time_point now);

/// Signs an HTTP request in place: adds Host if absent, X-Amz-Date,
/// X-Amz-Security-Token and Authorization.
void sign(http::Request& request, const Credentials& credentials, std::string_view region,
          std::string_view service, WallClock::time_point now);

}  // namespace trousseau::providers::awskms::sigv4
