// PyKMIP's KMIP server (Debian's python3-pykmip, `pykmip-server`) as a child
// process on a free loopback port, with mutual TLS under a CA the test
// makes, for the kmip provider's integration tests. Keys are made through
// PyKMIP's own client (pykmip_admin.py), never through ours. A missing
// pykmip-server fails the test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::testkit {

class PyKmipServer {
 public:
  /// Makes the PKI (server certificate for 127.0.0.1, a client certificate
  /// with CN "trousseau") and the server's configuration, starts it and
  /// waits until it accepts connections. Failures are recorded with
  /// ADD_FAILURE; check running().
  PyKmipServer();
  ~PyKmipServer();
  PyKmipServer(const PyKmipServer&) = delete;
  PyKmipServer& operator=(const PyKmipServer&) = delete;

  bool running() const { return process_.running(); }
  /// Starts it again on the same port with the same database: its keys
  /// survive, as they would a real server's restart.
  void start();
  void stop();  ///< SIGTERM, and waits until it is gone
  void kill();  ///< SIGKILL, as a crash
  void signal(int sig) { process_.signal(sig); }  ///< SIGSTOP freezes, SIGCONT thaws

  std::uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string ca_file() const { return ca_; }
  std::string client_cert() const { return client_cert_; }
  std::string client_key() const { return client_key_; }

  /// A YAML flow mapping (without braces) of a kmip provider entry for the
  /// key `uid` (none when empty: name the key in `extra`), in the default
  /// mode (GCM); `extra` is appended.
  std::string entry(const std::string& uid, const std::string& extra = "") const;

  /// Key administration through PyKMIP's client (pykmip_admin.py).
  std::string create_key(const std::string& name, bool activate = true);
  void activate(const std::string& uid);
  void revoke(const std::string& uid);  ///< the key becomes Deactivated
  void destroy(const std::string& uid);
  std::string state(const std::string& uid);
  /// AES-CBC decrypt by PyKMIP's client; the plaintext in hex.
  std::string decrypt_cbc(const std::string& uid, const std::string& iv_hex, const std::string& ct_hex);

  std::string log_tail() const;

 private:
  std::string admin(const std::vector<std::string>& args);

  TempDir dir_;
  std::uint16_t port_ = 0;
  std::string ca_, client_cert_, client_key_;
  ChildProcess process_;
};

}  // namespace trousseau::testkit
