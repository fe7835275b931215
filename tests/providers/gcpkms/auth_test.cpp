// The Google token source against a scripted HTTP(S) server: what each
// grant looks like on the wire (the service-account JWT and its claims, the
// STS exchange, the metadata server over plain http), the credentials files
// read again for each token, and what is refused before any request.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <map>
#include <thread>

#include "common/base64url.hpp"
#include "providers/gcpkms/google_auth.hpp"
#include "support/command.hpp"
#include "support/double_process.hpp"
#include "support/local_http_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

namespace trousseau::providers::gcpkms {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testkit::LocalHttpServer;
using testkit::respond;

std::string token_answer(const std::string& token, int expires_in) {
  return R"({"access_token":")" + token + R"(","expires_in":)" + std::to_string(expires_in) +
         R"(,"token_type":"Bearer"})";
}

/// The form fields of a request body, percent-decoded.
std::map<std::string, std::string> form(const std::string& body) {
  auto decode = [](std::string_view v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '%' && i + 2 < v.size()) {
        out += static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += v[i] == '+' ? ' ' : v[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  std::string_view rest = body;
  while (!rest.empty()) {
    const std::string_view pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    const auto eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
  }
  return out;
}

/// An RSA key as `openssl genpkey` writes it (PKCS#8), in a service-account
/// key file with `token_uri`.
struct ServiceAccountFile {
  std::string key_pem;
  std::string path;
};
ServiceAccountFile service_account(const testkit::TempDir& dir, const std::string& token_uri) {
  testkit::CommandResult r = testkit::run_command(
      {"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
       dir.file("sa.pem")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ServiceAccountFile f{testkit::read_text_file(dir.file("sa.pem")), dir.file("sa.json")};
  const boost::json::object json{{"type", "service_account"},
                                 {"project_id", "p"},
                                 {"private_key_id", "0123abcd"},
                                 {"private_key", f.key_pem},
                                 {"client_email", "trousseau@p.iam.gserviceaccount.com"},
                                 {"client_id", "1234"},
                                 {"token_uri", token_uri}};
  testkit::write_file(f.path, boost::json::serialize(json), 0600);
  return f;
}

class GoogleTokens : public ::testing::Test {
 protected:
  GoogleTokens() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~GoogleTokens() override {
    source_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  Result<std::shared_ptr<TokenSource>> make(TokenOptions options, const std::string& ca_file = "") {
    http::ClientOptions co;
    co.allow_plain_http = true;
    co.ca_file = ca_file;
    co.retry.max_attempts = 1;
    auto client = http::Client::create(io_.get_executor(), co);
    EXPECT_TRUE(client.ok());
    return TokenSource::create(io_.get_executor(), std::move(client).value(), std::move(options));
  }
  void start(TokenOptions options, const std::string& ca_file = "") {
    auto source = make(std::move(options), ca_file);
    ASSERT_TRUE(source.ok()) << source.error().message();
    source_ = std::move(source).value();
  }

  std::pair<Error, std::string> get() {
    return source_->async_get(Clock::now() + 10s, asio::use_future([](Error e, TokenPtr t) {
             return std::make_pair(std::move(e), t ? std::string(as_chars(t->value.view())) : std::string());
           })).get();
  }
  TokenPtr get_token() {
    return source_->async_get(Clock::now() + 10s, asio::use_future([](Error, TokenPtr t) { return t; })).get();
  }

  testkit::TempDir dir_;
  asio::io_context io_;
  std::shared_ptr<TokenSource> source_;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

TEST_F(GoogleTokens, TheMetadataServerIsAskedOverPlainHttpWithItsFlavourHeader) {
  LocalHttpServer server;
  server.script({respond(200, token_answer("from-metadata", 3599))});
  TokenOptions o;
  o.method = AuthMethod::metadata_server;
  o.metadata_address = server.url().substr(0, server.url().size() - 1);
  start(o);
  auto [e, token] = get();
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(token, "from-metadata");
  const testkit::SeenRequest seen = server.seen().at(0);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/computeMetadata/v1/instance/service-accounts/default/token");
  EXPECT_NE(seen.headers.find("Metadata-Flavor: Google"), std::string::npos) << seen.headers;
  EXPECT_EQ(source_->describe(), "metadata server " + o.metadata_address);
}

TEST_F(GoogleTokens, AServiceAccountKeySignsAJwtGrantThatVerifiesUnderItsPublicKey) {
  testkit::TestPki pki = testkit::make_test_pki(dir_.path().string(), {"IP:127.0.0.1"});
  LocalHttpServer server(&pki);
  server.script({respond(200, token_answer("from-jwt", 3600))});
  const std::string token_uri = server.url() + "token";
  ServiceAccountFile sa = service_account(dir_, token_uri);
  TokenOptions o;
  o.method = AuthMethod::service_account_key;
  o.credentials_file = sa.path;
  o.wall_now = [] { return std::chrono::system_clock::from_time_t(1700000000); };
  start(o, pki.ca_cert);
  EXPECT_EQ(source_->describe(), "service account trousseau@p.iam.gserviceaccount.com");
  auto [e, token] = get();
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(token, "from-jwt");
  const testkit::SeenRequest seen = server.seen().at(0);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/token");
  auto fields = form(seen.body);
  EXPECT_EQ(fields["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
  const std::string jwt = fields["assertion"];
  const auto d1 = jwt.find('.'), d2 = jwt.rfind('.');
  ASSERT_NE(d1, d2);
  Bytes header, claims, sig;
  ASSERT_TRUE(base64url_decode(jwt.substr(0, d1), header));
  ASSERT_TRUE(base64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1), claims));
  ASSERT_TRUE(base64url_decode(jwt.substr(d2 + 1), sig));
  auto h = boost::json::parse(as_chars(header));
  auto c = boost::json::parse(as_chars(claims));
  EXPECT_EQ(h.at("alg").as_string(), "RS256");
  EXPECT_EQ(h.at("typ").as_string(), "JWT");
  EXPECT_EQ(h.at("kid").as_string(), "0123abcd");
  EXPECT_EQ(c.at("iss").as_string(), "trousseau@p.iam.gserviceaccount.com");
  EXPECT_EQ(c.at("aud").as_string(), token_uri);
  EXPECT_EQ(c.at("scope").as_string(), "https://www.googleapis.com/auth/cloudkms");
  EXPECT_EQ(c.at("iat").to_number<std::int64_t>(), 1700000000);
  EXPECT_EQ(c.at("exp").to_number<std::int64_t>(), 1700003600);

  BIO* bio = BIO_new_mem_buf(sa.key_pem.data(), static_cast<int>(sa.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  ASSERT_NE(key, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const std::string input = jwt.substr(0, d2);
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, sig.data(), sig.size(), as_bytes(input).data(), input.size()), 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  BIO_free(bio);
}

TEST_F(GoogleTokens, WorkloadIdentityFederationExchangesTheSubjectTokenReadForEachExchange) {
  testkit::TestPki pki = testkit::make_test_pki(dir_.path().string(), {"IP:127.0.0.1"});
  LocalHttpServer server(&pki);
  server.script({respond(200, token_answer("sts-1", 3600)), respond(200, token_answer("sts-2", 3600))});
  testkit::write_file(dir_.file("subject"), "first.subject.token\n", 0644);
  const std::string audience =
      "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/k8s";
  const boost::json::object account{
      {"type", "external_account"},
      {"audience", audience},
      {"subject_token_type", "urn:ietf:params:oauth:token-type:jwt"},
      {"token_url", server.url() + "v1/token"},
      {"credential_source", {{"file", dir_.file("subject")}, {"format", {{"type", "text"}}}}}};
  testkit::write_file(dir_.file("external.json"), boost::json::serialize(account), 0644);
  TokenOptions o;
  o.method = AuthMethod::workload_identity_federation;
  o.credentials_file = dir_.file("external.json");
  start(o, pki.ca_cert);
  TokenPtr first = get_token();
  ASSERT_TRUE(first);
  testkit::SeenRequest seen = server.seen().at(0);
  EXPECT_EQ(seen.target, "/v1/token");
  auto fields = form(seen.body);
  EXPECT_EQ(fields["grant_type"], "urn:ietf:params:oauth:grant-type:token-exchange");
  EXPECT_EQ(fields["audience"], audience);
  EXPECT_EQ(fields["scope"], "https://www.googleapis.com/auth/cloud-platform");
  EXPECT_EQ(fields["requested_token_type"], "urn:ietf:params:oauth:token-type:access_token");
  EXPECT_EQ(fields["subject_token_type"], "urn:ietf:params:oauth:token-type:jwt");
  EXPECT_EQ(fields["subject_token"], "first.subject.token");
  // A projected token is rotated by the kubelet: the next exchange reads it.
  testkit::write_file(dir_.file("subject"), "second.subject.token", 0644);
  source_->invalidate(first);
  EXPECT_EQ(get().second, "sts-2");
  EXPECT_EQ(form(server.seen().at(1).body)["subject_token"], "second.subject.token");
}

TEST_F(GoogleTokens, AJsonSubjectTokenFileIsReadByItsField) {
  testkit::TestPki pki = testkit::make_test_pki(dir_.path().string(), {"IP:127.0.0.1"});
  LocalHttpServer server(&pki);
  server.script({respond(200, token_answer("sts", 3600))});
  testkit::write_file(dir_.file("subject.json"), R"({"id_token":"json.subject.token","other":1})", 0644);
  const boost::json::object account{
      {"type", "external_account"},
      {"audience", "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"},
      {"subject_token_type", "urn:ietf:params:oauth:token-type:id_token"},
      {"token_url", server.url() + "v1/token"},
      {"credential_source",
       {{"file", dir_.file("subject.json")},
        {"format", {{"type", "json"}, {"subject_token_field_name", "id_token"}}}}}};
  testkit::write_file(dir_.file("external.json"), boost::json::serialize(account), 0644);
  TokenOptions o;
  o.method = AuthMethod::workload_identity_federation;
  o.credentials_file = dir_.file("external.json");
  start(o, pki.ca_cert);
  ASSERT_TRUE(get().first.ok());
  EXPECT_EQ(form(server.seen().at(0).body)["subject_token"], "json.subject.token");
}

TEST_F(GoogleTokens, ACredentialsFileThatCannotWorkIsRefusedBeforeAnyRequest) {
  auto refused = [&](const std::string& json, AuthMethod method, const std::string& says) {
    testkit::write_file(dir_.file("creds.json"), json, 0600);
    TokenOptions o;
    o.method = method;
    o.credentials_file = dir_.file("creds.json");
    auto s = make(o);
    ASSERT_FALSE(s.ok()) << json;
    EXPECT_EQ(s.error().code(), Code::failed_precondition);
    EXPECT_NE(s.error().message().find(says), std::string::npos) << s.error().message();
  };
  const std::string external =
      R"({"type":"external_account","audience":"//iam/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt",)";
  refused("{}", AuthMethod::service_account_key, "service_account");
  refused(R"({"type":"service_account","client_email":"a@b","private_key":"not a key"})",
          AuthMethod::service_account_key, "private key");
  refused(R"({"type":"service_account","client_email":"a@b","private_key":"x","token_uri":"http://evil/token"})",
          AuthMethod::service_account_key, "https");
  refused(R"({"type":"service_account","client_email":"a@b"})", AuthMethod::workload_identity_federation,
          "external_account");
  refused(external + R"("credential_source":{"url":"http://169.254.169.254/token"}})",
          AuthMethod::workload_identity_federation, "file credential_source");
  refused(external + R"("credential_source":{"file":"/t"},"service_account_impersonation_url":"https://iam/x"})",
          AuthMethod::workload_identity_federation, "impersonation");
  refused(external + R"("token_url":"http://sts/v1/token","credential_source":{"file":"/t"}})",
          AuthMethod::workload_identity_federation, "https");
  TokenOptions missing;
  missing.method = AuthMethod::service_account_key;
  missing.credentials_file = dir_.file("absent.json");
  EXPECT_EQ(make(missing).error().code(), Code::failed_precondition);
  missing.credentials_file.clear();
  EXPECT_NE(make(missing).error().message().find("GOOGLE_APPLICATION_CREDENTIALS"), std::string::npos);
}

TEST_F(GoogleTokens, TheKeyIsNeverInTheErrorOfAFileThatDoesNotParse) {
  const std::string secret = "-----BEGIN PRIVATE KEY-----\nMIIsecretmaterial\n-----END PRIVATE KEY-----\n";
  testkit::write_file(dir_.file("creds.json"),
                      R"({"type":"service_account","client_email":"a@b","private_key":")" + secret.substr(0, 40), 0600);
  TokenOptions o;
  o.method = AuthMethod::service_account_key;
  o.credentials_file = dir_.file("creds.json");
  auto s = make(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message().find("secretmaterial"), std::string::npos) << s.error().message();
}

TEST_F(GoogleTokens, AGoogleRefusalKeepsItsCodeAndIsPermissionDenied) {
  LocalHttpServer server;
  server.script({respond(403, R"({"error":"access_denied","error_description":"no identity"})")});
  TokenOptions o;
  o.method = AuthMethod::metadata_server;
  o.metadata_address = server.url().substr(0, server.url().size() - 1);
  start(o);
  auto [e, token] = get();
  EXPECT_EQ(e.code(), Code::permission_denied) << e.message();
  EXPECT_NE(e.message().find("access_denied"), std::string::npos) << e.message();
}

}  // namespace
}  // namespace trousseau::providers::gcpkms
