// moto_server, the AWS emulator, as a child process on a free loopback port,
// for integration tests of the AWS providers. A missing moto fails the test.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::testkit {

class MotoServer {
 public:
  static constexpr const char* kRegion = "us-east-1";
  static constexpr const char* kAccessKey = "AKIDMOTOTESTING";
  static constexpr const char* kSecretKey = "moto-does-not-check-signatures";

  /// Picks a free port (binds port 0, then hands the number to moto),
  /// starts moto_server (or `python3 -m moto.server`) and waits until it
  /// answers HTTP. Failures are recorded with ADD_FAILURE; check running().
  MotoServer();
  /// stop().
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  /// Puts kAccessKey and kSecretKey in this process's environment, where
  /// the awskms provider (and every `trousseau serve` child) finds them.
  static void export_credentials();
  /// A test's usual start: export_credentials(), then a new key. Its ARN,
  /// or "" after recording why (moto not running, or no key).
  std::string prepare_key();

  bool running() const { return process_.running(); }
  /// SIGSTOP: moto keeps its sockets and answers nothing until thaw().
  void freeze();
  void thaw();
  std::uint16_t port() const { return port_; }
  std::string endpoint() const;  ///< "http://127.0.0.1:<port>/"

  /// SIGTERM to its process group, waitpid, and a wait until the whole
  /// group is gone (SIGKILL after 5 s). Idempotent.
  void stop();
  /// Starts again on the same port. moto keeps state in memory: keys made
  /// before the restart are gone.
  void restart();

  /// One TrentService call, signed by our SigV4 signer with dummy
  /// credentials (moto routes on the signature's service name). Returns the
  /// body; a non-200 answer is recorded as a test failure unless `status`
  /// is given.
  std::string kms(const std::string& operation, const std::string& json,
                  unsigned* status = nullptr);
  /// An unsigned STS/other Query API POST (form body); returns the body.
  std::string post_form(const std::string& body, unsigned* status = nullptr);

  std::string create_key();  ///< returns the new key's ARN
  /// Seeds moto's id generator (POST /moto-api/seed): the same seed before
  /// create_key() gives the same key id again, e.g. after restart(). The key
  /// material is still new, as moto draws it from os.urandom.
  void seed(unsigned value);
  void create_alias(const std::string& alias, const std::string& key_id);
  /// Re-points an existing alias (UpdateAlias).
  void update_alias(const std::string& alias, const std::string& key_id);
  void disable_key(const std::string& key_id);
  void rotate_key(const std::string& key_id);  ///< RotateKeyOnDemand

  /// The last lines moto wrote, for failure messages.
  std::string log_tail() const;

 private:
  void start();
  bool wait_ready();
  std::string request(const std::string& raw, unsigned* status);

  TempDir dir_;
  std::uint16_t port_ = 0;
  ChildProcess process_;
};

}  // namespace trousseau::testkit
