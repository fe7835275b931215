// The in-repo Azure Key Vault / Managed HSM + Entra test double
// (tests/doubles/azure/keyvault_double.py) as a child process on a free
// loopback port, serving TLS with a test CA, for the azurekv provider's
// integration tests. A missing python3-cryptography fails the test.
#pragma once

#include <string>
#include <vector>

#include "support/double_process.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::testkit {

class KeyVaultDouble {
 public:
  static constexpr const char* kTenant = "00000000-0000-0000-0000-000000000001";
  static constexpr const char* kClientId = "00000000-0000-0000-0000-0000000000c1";
  static constexpr const char* kManagedIdentity = "00000000-0000-0000-0000-0000000000a1";
  static constexpr const char* kSecret = "double-client-secret";
  static constexpr const char* kIssuer = "https://oidc.trousseau.test";

  struct Options {
    std::string flavour = "vault";  ///< or "managedhsm"
    std::string resource;           ///< the token audience; empty: the flavour's public cloud
    /// Another double's pki_dir(): serve with its certificates, so that one
    /// CA file trusts both (test_pki.py names every CA alike).
    std::string pki_from;
  };

  /// Makes the PKI (test_pki.py, with a federated token), starts the
  /// double on port 0 with every Entra flow enabled, and waits for its
  /// ready file. Failures are recorded with ADD_FAILURE; check running().
  KeyVaultDouble() : KeyVaultDouble(Options{}) {}
  explicit KeyVaultDouble(Options options);
  KeyVaultDouble(const KeyVaultDouble&) = delete;
  KeyVaultDouble& operator=(const KeyVaultDouble&) = delete;

  bool running() const { return process_.running(); }
  void stop() { process_.stop(); }
  void signal(int sig) const { process_.signal(sig); }  ///< SIGSTOP freezes, SIGCONT thaws

  const std::string& url() const { return process_.url(); }  ///< "https://127.0.0.1:PORT"
  std::string scope() const { return resource_ + "/.default"; }
  std::string pki_dir() const { return dir_.path().string(); }
  std::string ca_file() const { return dir_.file("ca.pem"); }
  std::string client_pem() const { return dir_.file("client.pem"); }  ///< certificate + key
  std::string federated_token_file() const { return dir_.file("federated-token"); }
  std::string secret_file() const { return dir_.file("client-secret"); }

  /// A YAML flow mapping (without braces) of an azurekv entry for `key`,
  /// with client-secret auth and the test CA; `extra` is appended.
  std::string entry(const std::string& key, const std::string& extra = "") const;
  /// The `auth:` value for each flow.
  std::string auth_secret() const;
  std::string auth_certificate() const;
  std::string auth_workload() const;
  std::string auth_managed() const;

  /// Key management through the double's REST API (with a client-secret
  /// token). Each returns the new version's kid.
  std::string create_key(const std::string& name, const std::string& kty, int size = 0);
  std::string rotate_key(const std::string& name);
  void set_enabled(const std::string& name, bool enabled);

  /// Test controls of the double (not Azure).
  void advance_clock(int seconds);
  void fail(const std::string& path, int count, int status, int retry_after = 0);
  /// The next `count` unwrapkey and decrypt answers carry a wrong value (0:
  /// none from now on).
  void corrupt(int count);
  struct Served {
    std::string method, path;
    int status = 0;
  };
  std::vector<Served> requests();
  /// How many requests served so far went to paths starting with `prefix`
  /// (and had `status`, if not 0).
  int count(const std::string& prefix, int status = 0);

 private:
  using Reply = DoubleReply;
  Reply call(const std::string& method, const std::string& target, const std::string& body,
             const std::string& content_type, bool bearer);
  std::string token();

  TempDir dir_;
  std::string resource_;
  DoubleProcess process_;
};

}  // namespace trousseau::testkit
