#include "moto.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "providers/awskms/sigv4.hpp"
#include "support/child_process.hpp"
#include "support/wait.hpp"

namespace trousseau::testkit {

namespace {

using namespace std::chrono_literals;

/// A blocking HTTP/1.1 exchange with Connection: close; "" on failure.
std::string exchange(std::uint16_t port, const std::string& raw) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size())) {
    char buf[8192];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

MotoServer::MotoServer() {
  port_ = free_loopback_port();
  start();
}

MotoServer::~MotoServer() { stop(); }

void MotoServer::export_credentials() {
  ::setenv("AWS_ACCESS_KEY_ID", kAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kSecretKey, 1);
}

void MotoServer::freeze() { process_.signal(SIGSTOP); }
void MotoServer::thaw() { process_.signal(SIGCONT); }

std::string MotoServer::prepare_key() {
  export_credentials();
  if (!running()) {
    ADD_FAILURE() << "moto is not running: " << log_tail();
    return {};
  }
  std::string arn = create_key();
  if (arn.empty()) ADD_FAILURE() << "moto created no key: " << log_tail();
  return arn;
}

std::string MotoServer::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/";
}

void MotoServer::start() {
  const std::string port = std::to_string(port_);
  // moto_server where it is on PATH (a pyenv shim runs moto as its own
  // child: ChildProcess signals the whole group), else the module.
  process_.start({"sh", "-c",
                  "command -v moto_server >/dev/null && exec moto_server -H 127.0.0.1 -p " + port +
                      " || exec python3 -m moto.server -H 127.0.0.1 -p " + port},
                 dir_.file("moto.log"));
  if (!wait_ready()) {
    ADD_FAILURE() << "moto_server did not start on port " << port_
                  << " (is moto installed? `pip install 'moto[server]'`)\n"
                  << log_tail();
    stop();
  }
}

bool MotoServer::wait_ready() {
  // Ready once it answers HTTP; gone when it exited (not installed, or the
  // port was taken).
  testkit::wait_until([&] {
    return process_.exited() ||
           exchange(port_, "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                   .rfind("HTTP/1.", 0) == 0;
  });
  return process_.running();
}

void MotoServer::stop() { process_.stop(); }

void MotoServer::restart() {
  stop();
  start();
}

std::string MotoServer::log_tail() const {
  std::ifstream in(dir_.file("moto.log"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

std::string MotoServer::request(const std::string& raw, unsigned* status) {
  const std::string reply = exchange(port_, raw);
  unsigned code = 0;
  if (reply.rfind("HTTP/1.", 0) == 0) code = static_cast<unsigned>(std::atoi(reply.c_str() + 9));
  const auto body_at = reply.find("\r\n\r\n");
  std::string body = body_at == std::string::npos ? "" : reply.substr(body_at + 4);
  if (status != nullptr) {
    *status = code;
  } else if (code != 200) {
    ADD_FAILURE() << "moto answered " << code << ": " << body;
  }
  return body;
}

std::string MotoServer::kms(const std::string& operation, const std::string& json,
                            unsigned* status) {
  namespace aws = providers::awskms;
  aws::Credentials creds;
  creds.access_key_id = kAccessKey;
  creds.secret_access_key = SecretBytes(as_bytes(kSecretKey));
  std::vector<http::Header> headers = {{"Host", "127.0.0.1:" + std::to_string(port_)},
                                       {"Content-Type", "application/x-amz-json-1.1"},
                                       {"X-Amz-Target", "TrentService." + operation}};
  const std::string auth = aws::sigv4::sign("POST", "/", "", headers, json, creds, kRegion, "kms",
                                            aws::WallClock::now());
  headers.push_back({"Authorization", auth});
  std::string raw = "POST / HTTP/1.1\r\n";
  for (const auto& h : headers) raw += h.name + ": " + h.value + "\r\n";
  raw += "Content-Length: " + std::to_string(json.size()) + "\r\nConnection: close\r\n\r\n" + json;
  return request(raw, status);
}

std::string MotoServer::post_form(const std::string& body, unsigned* status) {
  std::string raw = "POST / HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                    "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  return request(raw, status);
}

void MotoServer::seed(unsigned value) {
  const std::string raw = "POST /moto-api/seed?a=" + std::to_string(value) +
                          " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)request(raw, nullptr);
}

std::string MotoServer::create_key() {
  const std::string body = kms("CreateKey", R"({"Description":"trousseau test key"})");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("KeyMetadata")) {
    ADD_FAILURE() << "CreateKey: unexpected answer " << body;
    return {};
  }
  return std::string(v.at("KeyMetadata").at("Arn").as_string());
}

void MotoServer::create_alias(const std::string& alias, const std::string& key_id) {
  kms("CreateAlias", boost::json::serialize(boost::json::object{{"AliasName", alias},
                                                                {"TargetKeyId", key_id}}));
}

void MotoServer::update_alias(const std::string& alias, const std::string& key_id) {
  kms("UpdateAlias", boost::json::serialize(boost::json::object{{"AliasName", alias},
                                                                {"TargetKeyId", key_id}}));
}

void MotoServer::disable_key(const std::string& key_id) {
  // moto 5 looks DisableKey up by bare key id only.
  const auto slash = key_id.rfind("key/");
  const std::string id = slash == std::string::npos ? key_id : key_id.substr(slash + 4);
  kms("DisableKey", boost::json::serialize(boost::json::object{{"KeyId", id}}));
}

void MotoServer::rotate_key(const std::string& key_id) {
  kms("RotateKeyOnDemand", boost::json::serialize(boost::json::object{{"KeyId", key_id}}));
}

}  // namespace trousseau::testkit
