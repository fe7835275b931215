#include "keyvault_double.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "azurekv_test_paths.hpp"
#include "providers/oauth2.hpp"
#include "support/command.hpp"

namespace trousseau::testkit {

using providers::form_encode;

KeyVaultDouble::KeyVaultDouble(Options options) {
  const std::string here = AZURE_DOUBLE_DIR;
  resource_ = options.resource.empty()
                  ? (options.flavour == "managedhsm" ? "https://managedhsm.azure.net"
                                                     : "https://vault.azure.net")
                  : options.resource;
  CommandResult pki;
  if (options.pki_from.empty()) {
    pki = run_command({"/usr/bin/env", python3(), here + "/../test_pki.py", dir_.path().string(),
                       "--federated-issuer", kIssuer});
  } else {
    pki.exit_code = 0;
    for (const char* f : {"ca.pem", "server.pem", "server-key.pem", "client.pem", "client-cert.pem",
                          "federated-issuer.pem", "federated-token"}) {
      std::filesystem::copy_file(options.pki_from + "/" + f, dir_.file(f));
    }
  }
  if (pki.exit_code != 0) {
    ADD_FAILURE() << "test_pki.py failed (python3-cryptography missing? run scripts/install-deps --test)\n"
                  << pki.err;
    return;
  }
  write_file(secret_file(), std::string(kSecret) + "\n", 0600);
  std::vector<std::string> args = {
      python3(), here + "/keyvault_double.py", "--port", "0",
      "--tls-cert", dir_.file("server.pem"), "--tls-key", dir_.file("server-key.pem"),
      "--flavour", options.flavour, "--resource", resource_, "--tenant", kTenant,
      "--client-id", kClientId, "--client-secret", kSecret,
      "--client-cert", dir_.file("client-cert.pem"), "--federated-issuer", kIssuer,
      "--federated-subject", "system:serviceaccount:kube-system:trousseau",
      "--federated-key", dir_.file("federated-issuer.pem"),
      "--managed-identity-client-id", kManagedIdentity, "--ready-file", dir_.file("ready"),
      "--exit-on-stdin-eof"};
  process_.start(std::move(args), dir_.file("ready"), dir_.file("double.log"), "the Azure double");
}

std::string KeyVaultDouble::auth_secret() const {
  return std::string("{method: client_secret, tenant_id: '") + kTenant + "', client_id: '" +
         kClientId + "', client_secret_file: " + secret_file() + ", authority_host: '" + url() + "'}";
}
std::string KeyVaultDouble::auth_certificate() const {
  return std::string("{method: client_certificate, tenant_id: '") + kTenant + "', client_id: '" +
         kClientId + "', client_certificate_file: " + client_pem() + ", authority_host: '" + url() + "'}";
}
std::string KeyVaultDouble::auth_workload() const {
  return std::string("{method: workload_identity, tenant_id: '") + kTenant + "', client_id: '" +
         kClientId + "', federated_token_file: " + federated_token_file() + ", authority_host: '" +
         url() + "'}";
}
std::string KeyVaultDouble::auth_managed() const {
  return std::string("{method: managed_identity, client_id: '") + kManagedIdentity +
         "', imds_endpoint: '" + url() + "'}";
}

std::string KeyVaultDouble::entry(const std::string& key, const std::string& extra) const {
  return "vault_url: '" + url() + "', key_name: " + key + ", scope: '" + scope() +
         "', ca_file: " + ca_file() + ", auth: " + auth_secret() + (extra.empty() ? "" : ", " + extra);
}

KeyVaultDouble::Reply KeyVaultDouble::call(const std::string& method, const std::string& target,
                                           const std::string& body, const std::string& content_type,
                                           bool bearer) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
  if (bearer) headers.emplace_back("Authorization", "Bearer " + token());
  return double_request(ca_file(), method, url() + target, body, headers);
}

std::string KeyVaultDouble::token() {
  const std::string form = "grant_type=client_credentials&client_id=" + form_encode(kClientId) +
                           "&client_secret=" + form_encode(kSecret) + "&scope=" + form_encode(scope());
  Reply r = call("POST", std::string("/") + kTenant + "/oauth2/v2.0/token", form,
                 "application/x-www-form-urlencoded", false);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || r.status != 200) {
    ADD_FAILURE() << "double token: " << r.status << " " << r.body;
    return "";
  }
  return std::string(v.at("access_token").as_string());
}

std::string KeyVaultDouble::create_key(const std::string& name, const std::string& kty, int size) {
  boost::json::object body{{"kty", kty}};
  if (size != 0) body["key_size"] = size;
  Reply r = call("POST", "/keys/" + name + "/create?api-version=7.4", boost::json::serialize(body),
                 "application/json", true);
  if (r.status != 200) {
    ADD_FAILURE() << "create key: " << r.status << " " << r.body;
    return "";
  }
  return std::string(boost::json::parse(r.body).at("key").at("kid").as_string());
}

std::string KeyVaultDouble::rotate_key(const std::string& name) {
  Reply r = call("POST", "/keys/" + name + "/rotate?api-version=7.4", "{}", "application/json", true);
  if (r.status != 200) {
    ADD_FAILURE() << "rotate key: " << r.status << " " << r.body;
    return "";
  }
  return std::string(boost::json::parse(r.body).at("key").at("kid").as_string());
}

void KeyVaultDouble::set_enabled(const std::string& name, bool enabled) {
  Reply r = call("PATCH", "/keys/" + name + "?api-version=7.4",
                 boost::json::serialize(boost::json::object{
                     {"attributes", boost::json::object{{"enabled", enabled}}}}),
                 "application/json", true);
  if (r.status != 200) ADD_FAILURE() << "update key: " << r.status << " " << r.body;
}

void KeyVaultDouble::advance_clock(int seconds) {
  Reply r = call("POST", "/double/clock",
                 boost::json::serialize(boost::json::object{{"advance_seconds", seconds}}),
                 "application/json", false);
  if (r.status != 200) ADD_FAILURE() << "double clock: " << r.status;
}

void KeyVaultDouble::fail(const std::string& path, int count, int status, int retry_after) {
  Reply r = call("POST", "/double/fail",
                 boost::json::serialize(boost::json::object{{"path", path},
                                                            {"count", count},
                                                            {"status", status},
                                                            {"retry_after", retry_after}}),
                 "application/json", false);
  if (r.status != 200) ADD_FAILURE() << "double fail: " << r.status;
}

void KeyVaultDouble::corrupt(int count) {
  Reply r = call("POST", "/double/corrupt",
                 boost::json::serialize(boost::json::object{{"what", "value"}, {"count", count}}),
                 "application/json", false);
  if (r.status != 200) ADD_FAILURE() << "double corrupt: " << r.status << " " << r.body;
}

std::vector<KeyVaultDouble::Served> KeyVaultDouble::requests() {
  Reply r = call("GET", "/double/requests", "", "", false);
  std::vector<Served> out;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec) return out;
  for (const auto& e : v.at("requests").as_array()) {
    out.push_back({std::string(e.at("method").as_string()), std::string(e.at("path").as_string()),
                   static_cast<int>(e.at("status").to_number<double>())});
  }
  return out;
}

int KeyVaultDouble::count(const std::string& prefix, int status) {
  int n = 0;
  for (const Served& s : requests()) {
    if (s.path.rfind(prefix, 0) == 0 && (status == 0 || s.status == status)) ++n;
  }
  return n;
}

}  // namespace trousseau::testkit
