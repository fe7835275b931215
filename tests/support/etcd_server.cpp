#include "support/etcd_server.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/wait.hpp"

namespace trousseau::testkit {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

etcd::TlsCredentials read_tls(const std::string& ca, const std::string& cert,
                              const std::string& key) {
  return {slurp(ca), cert.empty() ? std::string() : slurp(cert),
          key.empty() ? std::string() : slurp(key)};
}

EtcdServer::EtcdServer() {
  pki_ = make_test_pki(dir_.file("pki"), {"DNS:localhost", "IP:127.0.0.1"});
  client_ = make_test_client_cert(dir_.file("pki"), "apiserver-etcd-client");
  port_ = free_loopback_port();
  const std::uint16_t peer = free_loopback_port();
  const std::string client_url = "https://127.0.0.1:" + std::to_string(port_);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
  process_.start({"/usr/bin/etcd",
                  "--name",
                  "audit-test",
                  "--data-dir",
                  dir_.file("data"),
                  "--listen-client-urls",
                  client_url,
                  "--advertise-client-urls",
                  client_url,
                  "--listen-peer-urls",
                  peer_url,
                  "--initial-advertise-peer-urls",
                  peer_url,
                  "--initial-cluster",
                  "audit-test=" + peer_url,
                  "--client-cert-auth",
                  "--trusted-ca-file",
                  pki_.ca_cert,
                  "--cert-file",
                  pki_.server_cert,
                  "--key-file",
                  pki_.server_key},
                 dir_.file("etcd.log"));
  // Ready means it serves a Range to a trusted client, not that time passed.
  // The client dials only once the port is open: a refused dial would put
  // its channel into gRPC's reconnect back-off, seconds long.
  const bool listening =
      wait_until([&] { return process_.exited() || loopback_port_open(port_); }) &&
      !process_.exited();
  auto client = listening ? client_with_certificate() : nullptr;
  const bool ready = client && wait_until([&] {
                       if (process_.exited()) return true;
                       return client->scan("/", [](auto, auto) {}).ok();
                     });
  EXPECT_TRUE(ready && !process_.exited())
      << "etcd did not serve (is etcd-server installed? scripts/install-deps --test)\n"
      << file_tail(dir_.file("etcd.log"));
  if (ready) writer_ = std::move(client);
}

EtcdServer::~EtcdServer() { process_.stop(); }

std::string EtcdServer::endpoint() const { return "https://127.0.0.1:" + std::to_string(port_); }

std::unique_ptr<etcd::KvClient> EtcdServer::client_with_certificate(
    etcd::ClientOptions options) const {
  auto c = etcd::KvClient::create({endpoint()}, read_tls(pki_.ca_cert, client_.cert, client_.key),
                                  options);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message());
  return c.ok() ? std::move(c.value()) : nullptr;
}

void EtcdServer::put(const std::string& key, const std::string& value) const {
  ASSERT_TRUE(writer_);
  const Error e = writer_->put(key, as_bytes(value));
  EXPECT_TRUE(e.ok()) << e.message();
}

}  // namespace trousseau::testkit
