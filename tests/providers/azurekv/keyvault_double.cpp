#include "keyvault_double.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "azurekv_test_paths.hpp"
#include "http/client.hpp"
#include "support/command.hpp"
#include "support/wait.hpp"

namespace trousseau::testkit {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Debian's interpreter, which imports Debian's python3-cryptography
/// (scripts/install-deps --test), even when a pyenv python3 comes first on
/// PATH (scripts/test puts one there for moto); any python3 elsewhere.
std::string python3() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::string form_encode(const std::string& v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

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
  const std::string ready = dir_.file("ready");
  const std::string log = dir_.file("double.log");
  std::vector<std::string> args = {
      python3(), here + "/keyvault_double.py", "--port", "0", "--ready-file", ready,
      "--tls-cert", dir_.file("server.pem"), "--tls-key", dir_.file("server-key.pem"),
      "--flavour", options.flavour, "--resource", resource_, "--tenant", kTenant,
      "--client-id", kClientId, "--client-secret", kSecret,
      "--client-cert", dir_.file("client-cert.pem"), "--federated-issuer", kIssuer,
      "--federated-subject", "system:serviceaccount:kube-system:trousseau",
      "--federated-key", dir_.file("federated-issuer.pem"),
      "--managed-identity-client-id", kManagedIdentity, "--exit-on-stdin-eof"};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[0], 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  stdin_fd_ = fds[1];  // closing it stops the double, even if we crash
  if (pid_ < 0) {
    ADD_FAILURE() << "fork failed";
    return;
  }
  const bool up = wait_until([&] {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return std::filesystem::exists(ready);
  });
  if (!up || pid_ <= 0) {
    ADD_FAILURE() << "the Azure double did not start\n" << read_all(log);
    stop();
    return;
  }
  url_ = read_all(ready);
  while (!url_.empty() && (url_.back() == '\n' || url_.back() == '\r')) url_.pop_back();
}

KeyVaultDouble::~KeyVaultDouble() { stop(); }

void KeyVaultDouble::stop() {
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string KeyVaultDouble::auth_secret() const {
  return std::string("{method: client_secret, tenant_id: '") + kTenant + "', client_id: '" +
         kClientId + "', client_secret_file: " + secret_file() + ", authority_host: '" + url_ + "'}";
}
std::string KeyVaultDouble::auth_certificate() const {
  return std::string("{method: client_certificate, tenant_id: '") + kTenant + "', client_id: '" +
         kClientId + "', client_certificate_file: " + client_pem() + ", authority_host: '" + url_ + "'}";
}
std::string KeyVaultDouble::auth_workload() const {
  return std::string("{method: workload_identity, tenant_id: '") + kTenant + "', client_id: '" +
         kClientId + "', federated_token_file: " + federated_token_file() + ", authority_host: '" +
         url_ + "'}";
}
std::string KeyVaultDouble::auth_managed() const {
  return std::string("{method: managed_identity, client_id: '") + kManagedIdentity +
         "', imds_endpoint: '" + url_ + "'}";
}

std::string KeyVaultDouble::entry(const std::string& key, const std::string& extra) const {
  return "vault_url: '" + url_ + "', key_name: " + key + ", scope: '" + scope() +
         "', ca_file: " + ca_file() + ", auth: " + auth_secret() + (extra.empty() ? "" : ", " + extra);
}

KeyVaultDouble::Reply KeyVaultDouble::call(const std::string& method, const std::string& target,
                                           const std::string& body, const std::string& content_type,
                                           bool bearer) {
  boost::asio::io_context io;
  http::ClientOptions co;
  co.ca_file = ca_file();
  co.retry.max_attempts = 1;  // the controls must see exactly what the double says
  auto client = http::Client::create(io.get_executor(), co);
  if (!client.ok()) {
    ADD_FAILURE() << client.error().message();
    return {};
  }
  http::Request req;
  req.method = method;
  req.url = http::Url::parse(url_ + target).value();
  req.body = body;
  if (!content_type.empty()) req.headers.push_back({"Content-Type", content_type});
  if (bearer) req.headers.push_back({"Authorization", "Bearer " + token()});
  Reply out;
  // Far off, on a clock that tests may hold still: a guard, not a bound.
  (*client)->async_request(std::move(req), Clock::now() + std::chrono::hours(24),
                           [&](Error e, http::Response r) {
                             if (!e.ok()) ADD_FAILURE() << target << ": " << e.message();
                             out = {r.status, r.body};
                           });
  io.run();
  return out;
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
