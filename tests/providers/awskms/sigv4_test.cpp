#include "providers/awskms/sigv4.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <random>

#include "awskms_test_paths.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::providers::awskms {
namespace {

// The published aws-sig-v4-test-suite: credentials, scope and time below.
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf"
    "IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7W"
    "Z0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8F"
    "DrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
constexpr std::string_view kUnreserved =
    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

WallClock::time_point suite_time() {
  return WallClock::from_time_t(1440938160);  // 2015-08-30T12:36:00Z
}

Credentials suite_credentials(bool session = false) {
  Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = SecretBytes(as_bytes(kSecret));
  if (session) c.session_token = SecretBytes(as_bytes(kToken));
  return c;
}

struct Vector {
  const char* name;
  const char* method;
  std::string path;
  std::string query;
  std::vector<http::Header> headers;  // X-Amz-Date is added by the signer
  std::string body;
  bool session;
  const char* signed_headers;
  const char* signature;
};

std::vector<Vector> suite() {
  const http::Header host{"Host", "example.amazonaws.com"};
  const std::string u(kUnreserved);
  return {
      {"get-vanilla", "GET", "/", "", {host}, "", false, "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", {host}, "", false,
       "host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", {host}, "", false,
       "host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
      {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", {host}, "",
       false, "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", {host}, "",
       false, "host;x-amz-date",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
      {"get-vanilla-query-unreserved", "GET", "/", u + "=" + u, {host}, "", false,
       "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar", {host}, "", false,
       "host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-header-key-duplicate", "GET", "/", "",
       {host, {"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, "",
       false, "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-order", "GET", "/", "",
       {host, {"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"},
        {"My-Header1", "value2"}},
       "", false, "host;my-header1;x-amz-date",
       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim", "GET", "/", "",
       {host, {"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, "", false,
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-unreserved", "GET", "/" + u, "", {host}, "", false, "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-space", "GET", "/example space/", "", {host}, "", false, "host;x-amz-date",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"get-relative", "GET", "/example/..", "", {host}, "", false, "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-relative-relative", "GET", "/example1/example2/../..", "", {host}, "", false,
       "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash", "GET", "//", "", {host}, "", false, "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-dot-slash", "GET", "/./", "", {host}, "", false, "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-pointless-dot", "GET", "/./example", "", {host}, "", false, "host;x-amz-date",
       "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
      {"get-slashes", "GET", "//example//", "", {host}, "", false, "host;x-amz-date",
       "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
      {"post-vanilla", "POST", "/", "", {host}, "", false, "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query", "POST", "/", "Param1=value1", {host}, "", false, "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-header-key-sort", "POST", "/", "", {host, {"My-Header1", "value1"}}, "", false,
       "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case", "POST", "/", "", {host, {"My-Header1", "VALUE1"}}, "", false,
       "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-x-www-form-urlencoded", "POST", "/", "",
       {{"Content-Type", "application/x-www-form-urlencoded"}, host}, "Param1=value1", false,
       "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
      {"post-x-www-form-urlencoded-parameters", "POST", "/", "",
       {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}, host},
       "Param1=value1", false, "content-type;host;x-amz-date",
       "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
      {"post-sts-header-before", "POST", "/", "", {host}, "", true,
       "host;x-amz-date;x-amz-security-token",
       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
  };
}

TEST(SigV4, MatchesThePublishedTestSuite) {
  for (const Vector& v : suite()) {
    std::vector<http::Header> headers = v.headers;
    std::string auth = sigv4::sign(v.method, v.path, v.query, headers, v.body,
                                   suite_credentials(v.session), "us-east-1", "service",
                                   suite_time());
    EXPECT_EQ(auth, std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                                "service/aws4_request, SignedHeaders=") +
                        v.signed_headers + ", Signature=" + v.signature)
        << v.name;
  }
}

TEST(SigV4, CanonicalRequestAndStringToSignOfGetHeaderValueTrim) {
  std::vector<http::Header> headers = {{"Host", "example.amazonaws.com"},
                                       {"My-Header1", " value1"},
                                       {"My-Header2", " \"a   b   c\""},
                                       {"X-Amz-Date", "20150830T123600Z"}};
  sigv4::Canonical c = sigv4::canonical_request("GET", "/", "", headers, "");
  EXPECT_EQ(c.request,
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
            "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sigv4::string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request",
                                  c.request),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7");
}

TEST(SigV4, CanonicalQueryEncodesUtf8AndSortsByKeyThenValue) {
  EXPECT_EQ(sigv4::canonical_query("\xe1\x88\xb4=bar"), "%E1%88%B4=bar");
  EXPECT_EQ(sigv4::canonical_query("b=2&a=2&a=1&c"), "a=1&a=2&b=2&c=");
  // Already-encoded input is not encoded twice.
  EXPECT_EQ(sigv4::canonical_query("k=a%20b&x=%2F"), "k=a%20b&x=%2F");
}

TEST(SigV4, DerivesThePublishedSigningKey) {
  // The worked example of the AWS General Reference (IAM, 2012-02-15).
  SecretBytes secret(as_bytes(kSecret));
  SecretBytes key = sigv4::signing_key(secret, "20120215", "us-east-1", "iam");
  EXPECT_EQ(hex_encode(key.view()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4, SignsAnHttpRequestInPlace) {
  http::Request req;
  req.method = "POST";
  req.url = http::Url::parse("https://kms.eu-west-1.amazonaws.com/").value();
  req.headers = {{"X-Amz-Target", "TrentService.Encrypt"},
                 {"Content-Type", "application/x-amz-json-1.1"}};
  req.body = "{}";
  sigv4::sign(req, suite_credentials(true), "eu-west-1", "kms", suite_time());
  ASSERT_NE(req.header("host"), nullptr);
  EXPECT_EQ(*req.header("host"), "kms.eu-west-1.amazonaws.com");
  EXPECT_EQ(*req.header("x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(*req.header("x-amz-security-token"), kToken);
  const std::string& auth = *req.header("authorization");
  EXPECT_NE(auth.find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"
                      "x-amz-target,"),
            std::string::npos)
      << auth;
  EXPECT_EQ(auth.find(kSecret), std::string::npos);
}

// ---- Independent cross-check against botocore's SigV4Auth ----

/// Picks whole UTF-8 characters from `alphabet`.
std::string random_string(std::mt19937& rng, std::string_view alphabet, std::size_t min,
                          std::size_t max) {
  std::vector<std::string_view> chars;
  for (std::size_t i = 0; i < alphabet.size();) {
    auto lead = static_cast<unsigned char>(alphabet[i]);
    std::size_t n = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    chars.push_back(alphabet.substr(i, n));
    i += n;
  }
  std::uniform_int_distribution<std::size_t> len(min, max);
  std::uniform_int_distribution<std::size_t> pick(0, chars.size() - 1);
  std::string s;
  for (std::size_t i = 0, n = len(rng); i < n; ++i) s += chars[pick(rng)];
  return s;
}

struct RandomCase {
  std::string method, path, region, service, access_key, secret, token;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<http::Header> headers;
  std::string body;
};

RandomCase random_case(std::mt19937& rng) {
  constexpr std::string_view kName = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
  constexpr std::string_view kText =
      "abcXYZ019 -_.~!$&'()*+,;=:@%/?#[]\"<>\\^`{|}\t  é☃";  // includes UTF-8
  constexpr std::string_view kValue =
      "abcdefXYZ0123456789 \t!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  const char* methods[] = {"GET", "POST", "PUT", "DELETE"};
  const char* regions[] = {"us-east-1", "eu-west-3", "ap-southeast-2"};
  const char* services[] = {"kms", "sts", "service", "execute-api"};
  RandomCase c;
  c.method = methods[rng() % 4];
  c.region = regions[rng() % 3];
  c.service = services[rng() % 4];
  c.access_key = "AKID" + random_string(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 12, 16);
  c.secret = random_string(rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789+/", 40, 40);
  if (rng() % 2 == 0) c.token = random_string(rng, "abcdefABCDEF0123456789+/=", 20, 200);
  std::string raw_path;
  for (std::size_t i = 0, n = rng() % 4; i < n; ++i) {
    const char* dots[] = {".", "..", ""};
    raw_path += "/" + (rng() % 5 == 0 ? std::string(dots[rng() % 3])
                                      : random_string(rng, kText, 1, 12));
  }
  if (rng() % 3 == 0) raw_path += "/";
  c.path = raw_path.empty() ? "/" : raw_path;
  for (std::size_t i = 0, n = rng() % 4; i < n; ++i) {
    c.params.emplace_back(random_string(rng, kText, 1, 8), random_string(rng, kText, 0, 8));
  }
  c.headers.push_back({"Host", "example.amazonaws.com"});
  for (std::size_t i = 0, n = rng() % 5; i < n; ++i) {
    std::string name = "X-" + random_string(rng, kName, 1, 10);
    c.headers.push_back({name, random_string(rng, kValue, 0, 24)});
    if (rng() % 4 == 0) c.headers.push_back({name, random_string(rng, kValue, 0, 8)});
  }
  c.body = random_string(rng, kText, 0, rng() % 2 ? 0 : 64);
  return c;
}

/// Runs botocore on the cases; returns its Authorization headers.
std::vector<std::string> botocore_sign(const std::vector<RandomCase>& cases,
                                       const std::string& dir) {
  boost::json::array arr;
  for (const RandomCase& c : cases) {
    boost::json::array params, headers;
    for (const auto& [k, v] : c.params) params.push_back(boost::json::array{k, v});
    for (const auto& h : c.headers) headers.push_back(boost::json::array{h.name, h.value});
    // botocore's own URL: the path as a client sends it, the query from params.
    arr.push_back(boost::json::object{
        {"method", c.method},
        {"url", "https://example.amazonaws.com" + sigv4::uri_encode(c.path, true)},
        {"params", params},
        {"headers", headers},
        {"body", base64_encode(as_bytes(c.body))},
        {"region", c.region},
        {"service", c.service},
        {"access_key", c.access_key},
        {"secret_key", c.secret},
        {"token", c.token}});
  }
  const std::string input = dir + "/cases.json";
  std::ofstream(input) << boost::json::serialize(
      boost::json::object{{"timestamp", "20150830T123600Z"}, {"cases", arr}});
  const std::string cmd = "python3 " AWSKMS_TEST_DIR "/botocore_sign.py " + input;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return {};
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = ::pclose(pipe);
  EXPECT_EQ(status, 0) << "python3 botocore_sign.py failed (is botocore installed?)";
  std::vector<std::string> auths;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(out, ec);
  EXPECT_FALSE(ec) << out;
  if (ec || !v.is_array()) return {};
  for (const auto& a : v.as_array()) auths.emplace_back(a.as_string());
  return auths;
}

TEST(SigV4, AgreesWithBotocoreOnRandomRequests) {
  std::mt19937 rng(std::random_device{}());
  std::vector<RandomCase> cases;
  for (int i = 0; i < 300; ++i) cases.push_back(random_case(rng));
  testkit::TempDir dir;
  std::vector<std::string> expected = botocore_sign(cases, dir.path().string());
  ASSERT_EQ(expected.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const RandomCase& c = cases[i];
    std::string query;
    for (const auto& [k, v] : c.params) {
      query += (query.empty() ? "" : "&") + sigv4::uri_encode(k, false) + "=" +
               sigv4::uri_encode(v, false);
    }
    Credentials creds;
    creds.access_key_id = c.access_key;
    creds.secret_access_key = SecretBytes(as_bytes(c.secret));
    if (!c.token.empty()) creds.session_token = SecretBytes(as_bytes(c.token));
    std::vector<http::Header> headers = c.headers;
    std::string ours = sigv4::sign(c.method, sigv4::uri_encode(c.path, true), query, headers,
                                   c.body, creds, c.region, c.service, suite_time());
    EXPECT_EQ(ours, expected[i]) << "case " << i << ": " << c.method << " " << c.path;
  }
}

}  // namespace
}  // namespace trousseau::providers::awskms
