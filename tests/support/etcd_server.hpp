// A real etcd (Debian's etcd-server, /usr/bin/etcd) for one test: its own
// data directory, free loopback ports, and client TLS with client
// certificates required, as on a kubeadm control plane. The CA and the
// certificates are made for it; a missing etcd fails the test.
#pragma once

#include <memory>
#include <string>

#include "etcd/kv_client.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

namespace trousseau::testkit {

class EtcdServer {
 public:
  /// Starts etcd and returns once it answers a Range over mutual TLS.
  /// Records a test failure (with the end of etcd's log) if it does not.
  EtcdServer();
  ~EtcdServer();  ///< stops etcd and removes its data

  std::string endpoint() const;  ///< "https://127.0.0.1:<port>"
  const std::string& ca() const { return pki_.ca_cert; }
  /// A client certificate etcd trusts (kube-apiserver's, on kubeadm).
  const TestClientCert& client() const { return client_; }
  const std::string& dir() const { return dir_.path().native(); }

  /// A client with the trusted client certificate.
  std::unique_ptr<etcd::KvClient> client_with_certificate(etcd::ClientOptions options = {}) const;
  /// Writes `value` at `key`, failing the test on an error. Thread-safe:
  /// writes from several threads share etcd's fsyncs.
  void put(const std::string& key, const std::string& value) const;

 private:
  TempDir dir_;
  TestPki pki_;
  TestClientCert client_;
  std::uint16_t port_ = 0;
  ChildProcess process_;
  std::unique_ptr<etcd::KvClient> writer_;
};

/// The PEM contents of a certificate and key (either may be empty) and a CA.
etcd::TlsCredentials read_tls(const std::string& ca, const std::string& cert = {},
                              const std::string& key = {});

}  // namespace trousseau::testkit
