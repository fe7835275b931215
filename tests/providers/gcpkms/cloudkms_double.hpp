// The in-repo Google Cloud KMS + token endpoints test double
// (tests/doubles/gcp/cloudkms_double.py) as a child process on a free
// loopback port (support/double_process.hpp), serving TLS with a test CA,
// for the gcpkms provider's integration tests; and the calls tests make to
// manage its keys and drive its test controls. A missing
// python3-cryptography fails the test.
#pragma once

#include <string>
#include <vector>

#include "support/double_process.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::testkit {

class CloudKmsDouble {
 public:
  static constexpr const char* kProject = "trousseau-test";
  static constexpr const char* kLocation = "europe-west1";
  static constexpr const char* kClientEmail = "trousseau@trousseau-test.iam.gserviceaccount.com";

  /// Makes the PKI (tests/doubles/test_pki.py), starts the double on port 0
  /// with a state directory (its credential files) and waits for its ready
  /// file. Failures are recorded with ADD_FAILURE; check running().
  CloudKmsDouble();
  CloudKmsDouble(const CloudKmsDouble&) = delete;
  CloudKmsDouble& operator=(const CloudKmsDouble&) = delete;

  bool running() const { return process_.running(); }
  void stop() { process_.stop(); }
  void signal(int sig) const { process_.signal(sig); }  ///< SIGSTOP freezes, SIGCONT thaws

  const std::string& url() const { return process_.url(); }  ///< "https://127.0.0.1:PORT"
  std::string ca_file() const { return dir_.file("ca.pem"); }
  std::string service_account_file() const { return dir_.file("state/service-account.json"); }
  std::string external_account_file() const { return dir_.file("state/external-account.json"); }
  std::string subject_token_file() const { return dir_.file("state/subject-token"); }

  /// "projects/trousseau-test/locations/europe-west1/keyRings/<ring>/cryptoKeys/<key>".
  static std::string key_path(const std::string& key, const std::string& ring = "trousseau");

  /// A YAML flow mapping (without braces) of a gcpkms entry for `key`
  /// (a key_path), with service-account auth, the double's endpoint and the
  /// test CA; `extra` is appended.
  std::string entry(const std::string& key, const std::string& extra = "") const;
  /// The `auth:` value for each method.
  std::string auth_service_account() const;
  std::string auth_external_account() const;
  std::string auth_metadata() const;

  /// Key management through the double's REST API. create_key makes the
  /// ring if needed and a symmetric key with its first version primary;
  /// each returns the (new) primary version's name.
  std::string create_key(const std::string& key);
  /// A new version, made primary.
  std::string rotate_key(const std::string& key);
  /// PATCH …/cryptoKeyVersions/{v}?updateMask=state.
  void set_state(const std::string& version, const std::string& state);

  /// Test controls of the double (not Google).
  void advance_clock(int seconds);
  void fail(const std::string& path, int count, int status);
  /// The next `count` answers carrying `what` lie about it (0: none from
  /// now on).
  void corrupt(const std::string& what, int count);
  struct Served {
    std::string method, path;
    int status = 0;
  };
  std::vector<Served> requests();
  /// How many requests served so far went to paths starting with `prefix`
  /// (and had `status`, if not 0).
  int count(const std::string& prefix, int status = 0);

 private:
  DoubleReply call(const std::string& method, const std::string& target, const std::string& body,
                   bool bearer = true);
  DoubleReply ok(const std::string& method, const std::string& target, const std::string& body);
  std::string token();

  TempDir dir_;
  DoubleProcess process_;
};

}  // namespace trousseau::testkit
