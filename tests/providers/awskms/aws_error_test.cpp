// What AWS error answers mean to us: which codes count against a
// provider's health, and how the server's words reach our messages.
#include "providers/awskms/aws_error.hpp"

#include <gtest/gtest.h>

namespace trousseau::providers::awskms {
namespace {

/// A KMS error as the JSON protocol sends it: the type in the body.
http::Response json_error(unsigned status, const std::string& type, const std::string& message = "") {
  http::Response r;
  r.status = status;
  r.body = R"({"__type":")" + type + R"(")" + (message.empty() ? "" : R"(,"message":")" + message + "\"") + "}";
  return r;
}

/// The type in the x-amzn-ErrorType header only, as AWS also answers.
http::Response header_error(unsigned status, const std::string& type) {
  http::Response r;
  r.status = status;
  r.headers.push_back({"x-amzn-ErrorType", type});
  r.body = "{}";
  return r;
}

TEST(AwsErrors, EnvelopeCausedFailuresAreIntegrityHoweverTheTypeIsSpelled) {
  for (const std::string type : {"InvalidCiphertextException", "IncorrectKeyException"}) {
    for (const http::Response& r :
         {json_error(400, type), json_error(400, "com.amazonaws.kms#" + type, "no"),
          header_error(400, type + ":http://internal.amazon.com/coral/com.amazonaws.kms/"),
          header_error(400, "com.amazonaws.kms#" + type + ":http://example.com/a#b")}) {
      const Error e = map_aws_error("Decrypt", r);
      EXPECT_EQ(e.code(), Code::integrity) << e.message();
      EXPECT_EQ(e.message().rfind("Decrypt: " + type, 0), 0u) << e.message();
    }
  }
}

TEST(AwsErrors, ProviderSideFailuresAreNeverIntegrity) {
  const std::pair<const char*, Code> cases[] = {
      {"DisabledException", Code::unavailable},
      {"KMSInvalidStateException", Code::unavailable},
      {"NotFoundException", Code::unavailable},
      {"KeyUnavailableException", Code::unavailable},
      {"AccessDeniedException", Code::permission_denied},
      {"UnrecognizedClientException", Code::permission_denied},
      {"ExpiredTokenException", Code::permission_denied},
      {"ThrottlingException", Code::resource_exhausted},
  };
  for (const auto& [type, code] : cases) {
    EXPECT_EQ(map_aws_error("Encrypt", json_error(400, type)).code(), code) << type;
  }
  EXPECT_EQ(map_aws_error("Encrypt", json_error(500, "KMSInternalException")).code(), Code::unavailable);
  http::Response bare;
  bare.status = 503;
  const Error e = map_aws_error("Encrypt", bare);
  EXPECT_EQ(e.code(), Code::unavailable);
  EXPECT_EQ(e.message(), "Encrypt: HTTP 503");
}

TEST(AwsErrors, TheServersWordsAreQuotedAndEscaped) {
  // A message or a type could carry a line break that forges a log line.
  const Error e = map_aws_error(
      "Decrypt", json_error(400, "DisabledException", R"(key off\nlevel=info msg=\"forged\")"));
  EXPECT_EQ(e.message(), R"(Decrypt: DisabledException: "key off\nlevel=info msg=\"forged\"")");
  EXPECT_EQ(e.message().find('\n'), std::string::npos);
  const Error odd = map_aws_error("Decrypt", json_error(400, R"(Weird\u0001Type)"));
  EXPECT_EQ(odd.message(), R"(Decrypt: "Weird\x01Type")");
}

TEST(AwsErrors, StsQueryErrorsAreReadFromTheirXml) {
  http::Response r;
  r.status = 403;
  r.body = "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
           "<Message>token expired</Message></Error></ErrorResponse>";
  const Error e = map_aws_error("AssumeRoleWithWebIdentity", r);
  EXPECT_EQ(e.code(), Code::permission_denied);
  EXPECT_EQ(e.message(), R"(AssumeRoleWithWebIdentity: ExpiredToken: "token expired")");
}

TEST(XmlElement, ReadsOneUnambiguousElement) {
  const std::string doc =
      "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
      "<Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>a &amp; b</Message>"
      "</Error><RequestId>r</RequestId></ErrorResponse>";
  EXPECT_EQ(xml_element(doc, "Code"), "InvalidIdentityToken");
  EXPECT_EQ(xml_element(doc, "Message"), "a &amp; b");  // the caller unescapes
  EXPECT_EQ(xml_element(doc, "Missing"), "");
}

// A second element of the same name must not let a server (or whatever
// sits in the body) choose which one we believe.
TEST(XmlElement, RefusesRepeatedNestedUnclosedOrAttributedElements) {
  EXPECT_EQ(xml_element("<Code>A</Code><Code>B</Code>", "Code"), "");
  EXPECT_EQ(xml_element("<Code><Code>A</Code></Code>", "Code"), "");
  EXPECT_EQ(xml_element("<Code>A", "Code"), "");
  EXPECT_EQ(xml_element("<Code id=\"1\">A</Code>", "Code"), "");
}

}  // namespace
}  // namespace trousseau::providers::awskms
