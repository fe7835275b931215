#include "vault_double.hpp"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <optional>

#include "common/base64url.hpp"
#include "common/bytes.hpp"
#include "http/client.hpp"
#include "vault_test_paths.hpp"

namespace trousseau::testkit {

namespace {

std::string base64url(std::string_view data) { return base64url_encode(as_bytes(data)); }

}  // namespace

VaultDouble::VaultDouble(VaultDoubleOptions options) : options_(std::move(options)) {
  const std::string ready = dir_.file("ready");
  const std::string log = dir_.file("double.log");
  std::vector<std::string> args = {"/usr/bin/python3", VAULT_DOUBLE_SCRIPT, "--port", "0",
                                   "--ready-file", ready, "--root-token", kRootToken};
  if (!options_.tls_cert.empty()) {
    args.insert(args.end(), {"--tls-cert", options_.tls_cert, "--tls-key", options_.tls_key});
  }
  if (!options_.client_ca.empty()) args.insert(args.end(), {"--client-ca", options_.client_ca});
  if (!options_.jwt_hmac_key.empty()) {
    args.insert(args.end(), {"--jwt-hmac-key", options_.jwt_hmac_key});
  }
  process_.start(std::move(args), ready, log, "the Vault double");
}

VaultDouble::Answer VaultDouble::call(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& token,
                                      const std::string& ns) {
  boost::asio::io_context io;
  http::ClientOptions co;
  co.ca_file = options_.ca_file;
  co.allow_plain_http = true;
  co.retry.max_attempts = 1;
  auto client = http::Client::create(io.get_executor(), co);
  EXPECT_TRUE(client.ok()) << client.error().message();
  if (!client.ok()) return {};
  http::Request req;
  req.method = method;
  auto url = http::Url::parse(address() + "/v1/" + path);
  EXPECT_TRUE(url.ok()) << address() << " " << path;
  if (!url.ok()) return {};
  req.url = *url;
  if (!token.empty()) req.headers.push_back({"X-Vault-Token", token});
  if (!ns.empty()) req.headers.push_back({"X-Vault-Namespace", ns});
  req.body = body;
  std::optional<Answer> out;
  (*client)->async_request(std::move(req), Clock::now() + std::chrono::seconds(60),
                           [&](Error e, http::Response r) {
                             EXPECT_TRUE(e.ok() || r.status >= 500) << e.message();
                             Answer a;
                             a.status = r.status;
                             a.body = r.body;
                             boost::system::error_code ec;
                             a.json = boost::json::parse(r.body, ec);
                             if (ec) a.json = nullptr;
                             out = std::move(a);
                           });
  io.run();
  return out.value_or(Answer{});
}

VaultDouble::Answer VaultDouble::ok(const std::string& method, const std::string& path,
                                    const std::string& body, const std::string& ns) {
  Answer a = call(method, path, body, kRootToken, ns);
  EXPECT_TRUE(a.status >= 200 && a.status < 300) << method << " " << path << ": " << a.status
                                                  << " " << a.body;
  return a;
}

void VaultDouble::create_key(const std::string& name, bool derived, const std::string& ns,
                             const std::string& mount) {
  ok("POST", mount + "/keys/" + name,
     std::string("{\"type\":\"aes256-gcm96\",\"derived\":") + (derived ? "true" : "false") + "}", ns);
}

void VaultDouble::rotate_key(const std::string& name, const std::string& ns) {
  ok("POST", "transit/keys/" + name + "/rotate", "", ns);
}

void VaultDouble::set_min_decryption_version(const std::string& name, unsigned version) {
  ok("POST", "transit/keys/" + name + "/config",
     "{\"min_decryption_version\":" + std::to_string(version) + "}");
}

std::string VaultDouble::create_token(unsigned ttl_s, bool renewable, unsigned explicit_max_ttl_s,
                                      const std::string& ns) {
  std::string body = "{\"policies\":[\"default\"],\"renewable\":" +
                     std::string(renewable ? "true" : "false");
  if (ttl_s != 0) body += ",\"ttl\":\"" + std::to_string(ttl_s) + "s\"";
  if (explicit_max_ttl_s != 0) {
    body += ",\"explicit_max_ttl\":\"" + std::to_string(explicit_max_ttl_s) + "s\"";
  }
  Answer a = ok("POST", "auth/token/create", body + "}", ns);
  return a.json.is_object() ? std::string(a.json.at("auth").at("client_token").as_string()) : "";
}

std::string VaultDouble::encrypt(const std::string& key, const std::string& plaintext_b64) {
  Answer a = ok("POST", "transit/encrypt/" + key, "{\"plaintext\":\"" + plaintext_b64 + "\"}");
  return a.json.is_object() ? std::string(a.json.at("data").at("ciphertext").as_string()) : "";
}

void VaultDouble::advance(std::chrono::seconds by) {
  ok("POST", "sys/double/clock", "{\"advance_seconds\":" + std::to_string(by.count()) + "}");
}

void VaultDouble::fail(const std::string& path, unsigned status, unsigned count) {
  ok("POST", "sys/double/fail",
     "{\"path\":\"" + path + "\",\"status\":" + std::to_string(status) +
         ",\"count\":" + std::to_string(count) + "}");
}

long long VaultDouble::ttl_of(const std::string& token) {
  Answer a = call("GET", "auth/token/lookup-self", "", token);
  if (a.status != 200 || !a.json.is_object()) return -1;
  return a.json.at("data").at("ttl").to_number<long long>();
}

std::string hs256_jwt(const std::string& key, const std::string& claims_json) {
  const std::string signing_input =
      base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims_json);
  unsigned char mac[32];
  unsigned len = sizeof mac;
  ::HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
         &len);
  return signing_input + "." + base64url(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace trousseau::testkit
