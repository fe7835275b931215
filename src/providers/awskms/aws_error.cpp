#include "providers/awskms/aws_error.hpp"

#include <boost/json/parse.hpp>
#include <algorithm>
#include <cctype>

#include "common/text.hpp"

namespace trousseau::providers::awskms {

namespace {

/// "com.amazonaws.kms#NotFoundException:http://..." → "NotFoundException",
/// in the order the AWS JSON protocols specify: cut at the first ':', then
/// keep what follows the first '#'.
std::string bare_type(std::string_view t) {
  if (auto colon = t.find(':'); colon != std::string_view::npos) t = t.substr(0, colon);
  // After the last '#': a type of several (a hostile answer) keeps none.
  if (auto hash = t.rfind('#'); hash != std::string_view::npos) t.remove_prefix(hash + 1);
  return std::string(t);
}

/// An error type as it appears in our messages: bare when it looks like
/// one ("DisabledException"), quoted and escaped otherwise.
std::string shown_type(const std::string& type) {
  const bool plain = !type.empty() && type.size() <= 100 &&
                     std::all_of(type.begin(), type.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' ||
                              c == '.';
                     });
  return plain ? type : quote(type);
}

bool any_of(std::string_view type, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (type == n) return true;
  }
  return false;
}

}  // namespace

AwsError parse_aws_error(const http::Response& response) {
  AwsError e;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(response.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (auto* t = o.if_contains("__type"); t && t->is_string()) e.type = bare_type(t->as_string());
    for (const char* key : {"message", "Message"}) {
      if (auto* m = o.if_contains(key); m && m->is_string()) e.message = m->as_string();
    }
  } else if (response.body.find("<Code>") != std::string::npos) {
    e.type = bare_type(xml_element(response.body, "Code"));
    e.message = std::string(xml_element(response.body, "Message"));
  }
  if (e.type.empty()) {
    if (const std::string* h = response.header("x-amzn-ErrorType")) e.type = bare_type(*h);
  }
  if (e.message.size() > 512) e.message.resize(512);
  return e;
}

bool aws_throttled(const http::Response& response) {
  if (response.status == 429) return true;
  if (response.status != 400) return false;
  const std::string type = parse_aws_error(response).type;
  return any_of(type, {"ThrottlingException", "Throttling", "ThrottledException",
                       "TooManyRequestsException", "RequestLimitExceeded",
                       "LimitExceededException"});
}

Error map_aws_error(std::string_view operation, const http::Response& response) {
  const AwsError e = parse_aws_error(response);
  // The server's words are quoted: they reach logs and gRPC status messages.
  std::string text = std::string(operation) + ": " +
                     (e.type.empty() ? "HTTP " + std::to_string(response.status) : shown_type(e.type)) +
                     (e.message.empty() ? "" : ": " + quote(e.message));
  // The envelope's fault, not the provider's: the blob does not open under
  // this key and context, or was made by another key than the one named.
  if (any_of(e.type, {"InvalidCiphertextException", "IncorrectKeyException"})) {
    return integrity_error(std::move(text));
  }
  if (any_of(e.type, {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                      "InvalidSignatureException", "IncompleteSignature",
                      "MissingAuthenticationToken", "InvalidClientTokenId",
                      "ExpiredTokenException", "ExpiredToken", "InvalidIdentityToken",
                      "SignatureDoesNotMatch", "NotAuthorized"})) {
    return Error(Code::permission_denied, std::move(text));
  }
  if (aws_throttled(response)) return Error(Code::resource_exhausted, "throttled: " + text);
  // DisabledException, KMSInvalidStateException, NotFoundException,
  // KeyUnavailableException, DependencyTimeoutException, 5xx, and the rest.
  return unavailable(std::move(text));
}

std::string_view xml_element(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  auto b = xml.find(open);
  if (b == std::string_view::npos) return {};
  b += open.size();
  auto e = xml.find(close, b);
  if (e == std::string_view::npos) return {};
  const std::string_view inner = xml.substr(b, e - b);
  // Nested or repeated: the answer does not say one thing.
  if (inner.find(open) != std::string_view::npos ||
      xml.find(open, e) != std::string_view::npos) {
    return {};
  }
  return inner;
}

}  // namespace trousseau::providers::awskms
