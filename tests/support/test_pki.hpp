// A throw-away certificate authority and a server certificate signed by it,
// made with the openssl command line, for TLS tests.
#pragma once

#include <string>
#include <vector>

namespace trousseau::testkit {

struct TestPki {
  std::string ca_cert;      ///< PEM file of the CA
  std::string server_cert;  ///< PEM file, signed by the CA
  std::string server_key;
};

/// Creates the files under `dir`. `alt_names` become the server
/// certificate's subjectAltName entries, e.g. {"DNS:localhost", "IP:127.0.0.1"}.
/// Fails the current test (and returns empty paths) if openssl fails.
TestPki make_test_pki(const std::string& dir, const std::vector<std::string>& alt_names);

struct TestClientCert {
  std::string cert;  ///< PEM file, signed by the CA of the PKI in `dir`
  std::string key;
};

/// A client certificate (extendedKeyUsage clientAuth, subject CN `name`)
/// signed by the CA that make_test_pki() created in `dir`, written there as
/// `<name>.pem` and `<name>.key`. Fails the current test if openssl fails.
TestClientCert make_test_client_cert(const std::string& dir, const std::string& name);

}  // namespace trousseau::testkit
