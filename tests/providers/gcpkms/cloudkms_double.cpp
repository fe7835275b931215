#include "cloudkms_double.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "gcpkms_test_paths.hpp"
#include "support/command.hpp"

namespace trousseau::testkit {

CloudKmsDouble::CloudKmsDouble() {
  const std::string here = GCP_DOUBLE_DIR;
  CommandResult pki = run_command({"/usr/bin/env", python3(), here + "/../test_pki.py", dir_.path().string()});
  if (pki.exit_code != 0) {
    ADD_FAILURE() << "test_pki.py failed (python3-cryptography missing? run scripts/install-deps --test)\n"
                  << pki.err;
    return;
  }
  std::filesystem::create_directories(dir_.file("state"));
  process_.start({python3(), here + "/cloudkms_double.py", "--port", "0", "--ready-file", dir_.file("ready"),
                  "--tls-cert", dir_.file("server.pem"), "--tls-key", dir_.file("server-key.pem"),
                  "--state-dir", dir_.file("state"), "--project", kProject, "--client-email", kClientEmail,
                  "--exit-on-stdin-eof"},
                 dir_.file("ready"), dir_.file("double.log"), "the Cloud KMS double");
}

std::string CloudKmsDouble::key_path(const std::string& key, const std::string& ring) {
  return std::string("projects/") + kProject + "/locations/" + kLocation + "/keyRings/" + ring +
         "/cryptoKeys/" + key;
}

std::string CloudKmsDouble::auth_service_account() const {
  return "{method: service_account_key, credentials_file: " + service_account_file() + "}";
}
std::string CloudKmsDouble::auth_external_account() const {
  return "{method: workload_identity_federation, credentials_file: " + external_account_file() + "}";
}
std::string CloudKmsDouble::auth_metadata() const {
  return "{method: metadata_server, metadata_address: '" + url() + "'}";
}

std::string CloudKmsDouble::entry(const std::string& key, const std::string& extra) const {
  return "key_name: " + key + ", endpoint: '" + url() + "', ca_file: " + ca_file() +
         ", auth: " + auth_service_account() + (extra.empty() ? "" : ", " + extra);
}

DoubleReply CloudKmsDouble::call(const std::string& method, const std::string& target,
                                 const std::string& body, bool bearer) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  if (bearer) headers.emplace_back("Authorization", "Bearer " + token());
  return double_request(ca_file(), method, url() + target, body, headers);
}

DoubleReply CloudKmsDouble::ok(const std::string& method, const std::string& target,
                               const std::string& body) {
  DoubleReply r = call(method, target, body);
  if (r.status != 200) ADD_FAILURE() << method << " " << target << ": " << r.status << " " << r.body;
  return r;
}

std::string CloudKmsDouble::token() {
  // The double's metadata server: any valid token may manage keys.
  DoubleReply r = double_request(ca_file(), "GET",
                                 url() + "/computeMetadata/v1/instance/service-accounts/default/token",
                                 "", {{"Metadata-Flavor", "Google"}});
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || r.status != 200) {
    ADD_FAILURE() << "double token: " << r.status << " " << r.body;
    return "";
  }
  return std::string(v.at("access_token").as_string());
}

std::string CloudKmsDouble::create_key(const std::string& key) {
  const std::string ring = key.substr(0, key.find("/cryptoKeys/"));
  const std::string parent = ring.substr(0, ring.find("/keyRings/"));
  const std::string ring_id = ring.substr(ring.rfind('/') + 1);
  DoubleReply made = call("POST", "/v1/" + parent + "/keyRings?keyRingId=" + ring_id, "{}");
  if (made.status != 200 && made.status != 409) {
    ADD_FAILURE() << "create key ring: " << made.status << " " << made.body;
  }
  const std::string key_id = key.substr(key.rfind('/') + 1);
  DoubleReply r = ok("POST", "/v1/" + ring + "/cryptoKeys?cryptoKeyId=" + key_id,
                     R"({"purpose":"ENCRYPT_DECRYPT"})");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec) return "";
  return std::string(v.at("primary").at("name").as_string());
}

std::string CloudKmsDouble::rotate_key(const std::string& key) {
  DoubleReply r = ok("POST", "/v1/" + key + "/cryptoKeyVersions", "{}");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec) return "";
  const std::string version(v.at("name").as_string());
  ok("POST", "/v1/" + key + ":updatePrimaryVersion",
     boost::json::serialize(boost::json::object{{"cryptoKeyVersionId", version.substr(version.rfind('/') + 1)}}));
  return version;
}

void CloudKmsDouble::set_state(const std::string& version, const std::string& state) {
  ok("PATCH", "/v1/" + version + "?updateMask=state",
     boost::json::serialize(boost::json::object{{"state", state}}));
}

void CloudKmsDouble::advance_clock(int seconds) {
  DoubleReply r = call("POST", "/double/clock",
                       boost::json::serialize(boost::json::object{{"advance_seconds", seconds}}), false);
  if (r.status != 200) ADD_FAILURE() << "double clock: " << r.status;
}

void CloudKmsDouble::fail(const std::string& path, int count, int status) {
  DoubleReply r = call("POST", "/double/fail",
                       boost::json::serialize(boost::json::object{{"path", path}, {"count", count}, {"status", status}}),
                       false);
  if (r.status != 200) ADD_FAILURE() << "double fail: " << r.status;
}

void CloudKmsDouble::corrupt(const std::string& what, int count) {
  DoubleReply r = call("POST", "/double/corrupt",
                       boost::json::serialize(boost::json::object{{"what", what}, {"count", count}}), false);
  if (r.status != 200) ADD_FAILURE() << "double corrupt: " << r.status << " " << r.body;
}

std::vector<CloudKmsDouble::Served> CloudKmsDouble::requests() {
  DoubleReply r = call("GET", "/double/requests", "", false);
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

int CloudKmsDouble::count(const std::string& prefix, int status) {
  int n = 0;
  for (const Served& s : requests()) {
    if (s.path.rfind(prefix, 0) == 0 && (status == 0 || s.status == status)) ++n;
  }
  return n;
}

}  // namespace trousseau::testkit
