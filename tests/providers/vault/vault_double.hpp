// The in-repo Vault test double (tests/doubles/vault/vault_double.py, not
// Vault) as a child process on a free loopback port, and the calls tests
// make to set it up: keys, tokens, auth roles, its manual clock and its
// failure injection. A double that does not start fails the test.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <string>

#include "support/double_process.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::testkit {

struct VaultDoubleOptions {
  std::string tls_cert, tls_key;  ///< serve https with these
  std::string ca_file;            ///< what the test's own calls trust (with TLS)
  std::string client_ca;          ///< accept client certificates from this CA (cert auth)
  std::string jwt_hmac_key;       ///< HS256 key for kubernetes and jwt logins
};

class VaultDouble {
 public:
  static constexpr const char* kRootToken = "root-token-of-the-double";

  /// Starts `/usr/bin/python3 vault_double.py --port 0 --ready-file F` and
  /// waits for F (the double writes it once it listens); stopped with the
  /// object (support/double_process.hpp).
  explicit VaultDouble(VaultDoubleOptions options = {});
  VaultDouble(const VaultDouble&) = delete;
  VaultDouble& operator=(const VaultDouble&) = delete;

  bool running() const { return process_.running(); }
  void signal(int sig) const { process_.signal(sig); }  ///< SIGSTOP freezes, SIGCONT thaws
  /// "http://127.0.0.1:<port>" or "https://…", as the double wrote it.
  const std::string& address() const { return process_.url(); }

  struct Answer {
    unsigned status = 0;
    std::string body;
    boost::json::value json;  ///< null when the body is not JSON
  };
  /// One call to /v1/<path> with `token` (none when empty) and namespace
  /// `ns`. Not checked: see `ok()`.
  Answer call(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& token = kRootToken, const std::string& ns = "");
  /// call() that records a test failure unless Vault answers 2xx.
  Answer ok(const std::string& method, const std::string& path, const std::string& body = "",
            const std::string& ns = "");

  void create_key(const std::string& name, bool derived = false, const std::string& ns = "",
                  const std::string& mount = "transit");
  void rotate_key(const std::string& name, const std::string& ns = "");
  void set_min_decryption_version(const std::string& name, unsigned version);
  /// A token (root's child) with `ttl_s` (0: the default) and `renewable`.
  std::string create_token(unsigned ttl_s, bool renewable = true, unsigned explicit_max_ttl_s = 0,
                           const std::string& ns = "");
  /// Transit encrypt of `plaintext_b64` (already base64) under `key`.
  std::string encrypt(const std::string& key, const std::string& plaintext_b64);
  /// Moves the double's manual clock (every TTL and JWT time reads it).
  void advance(std::chrono::seconds by);
  /// The next `count` requests to `path` (after /v1/) answer `status`.
  void fail(const std::string& path, unsigned status, unsigned count);
  /// The remaining TTL of `token` as lookup-self reports it.
  long long ttl_of(const std::string& token);

 private:
  VaultDoubleOptions options_;
  TempDir dir_;
  DoubleProcess process_;  ///< after dir_: stopped before its files go
};

/// An HS256 JWT over `claims_json`, signed with `key` (the double's
/// --jwt-hmac-key stand-in for RS256).
std::string hs256_jwt(const std::string& key, const std::string& claims_json);

}  // namespace trousseau::testkit
