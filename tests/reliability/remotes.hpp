// The remote KMSes the fault suite puts behind a TcpProxy: moto (AWS KMS),
// PyKMIP's KMIP server, and the in-repo Vault, Azure Key Vault and Google
// Cloud KMS test doubles, each as a real process on loopback. One interface
// gives the suite what it needs of each: a provider entry that reaches the
// server through the proxy, a way to freeze it, and a way to make it lie.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/tcp_proxy.hpp"

namespace trousseau::testkit {

class Remote {
 public:
  enum class Kind { aws, vault, azure, gcp, kmip };

  /// Starts the server of `kind`; failures are recorded with ADD_FAILURE
  /// (check running()).
  static std::unique_ptr<Remote> start(Kind kind);
  virtual ~Remote() = default;

  virtual bool running() const = 0;
  /// The loopback port a proxy forwards to.
  virtual std::uint16_t port() const = 0;
  /// Makes a fresh key and returns the provider entry, a YAML flow
  /// mapping `{name: <name>, type: …}` whose every call to the server
  /// (tokens included) goes through `proxy`, with the call `timeout`.
  virtual std::string provider_entry(const std::string& name, const TcpProxy& proxy,
                                     const std::string& timeout = "1s") = 0;
  /// SIGSTOP: the server keeps its sockets and answers nothing until thaw().
  virtual void freeze() = 0;
  virtual void thaw() = 0;
  /// Whether lie() works: PyKMIP's TTLV travels in mutual TLS, which the
  /// proxy cannot alter, and it has no control to lie with.
  static bool can_lie(Kind kind) { return kind != Kind::kmip; }
  /// Makes every unwrap answer from now on well-formed and wrong, as a
  /// lying or broken KMS would give, until tell_the_truth(). Plain-HTTP
  /// servers lie through the proxy (TcpProxy::Fault::wrong_plaintext);
  /// TLS ones through the double's own control.
  virtual void lie(TcpProxy& proxy) = 0;
  virtual void tell_the_truth(TcpProxy& proxy) = 0;

  /// Whether kill() and restart() work: only PyKMIP keeps its keys on
  /// disk. moto and the doubles keep them in memory, so a restarted one is
  /// another KMS, without the keys the envelopes name.
  static bool can_restart(Kind kind) { return kind == Kind::kmip; }
  /// SIGKILL, as a crash.
  virtual void kill() {}
  /// Starts it again on the same port and data; false if it did not start.
  virtual bool restart() { return false; }

  /// Whether expire_credential() works: the Vault, Azure and Google
  /// doubles issue tokens on a clock of their own. moto checks no expiry,
  /// and PyKMIP's credential is the client certificate.
  static bool can_expire(Kind kind) {
    return kind == Kind::vault || kind == Kind::azure || kind == Kind::gcp;
  }
  /// Moves the server's clock past the provider's credential. True when it
  /// stays dead until renew_credential() (Vault: a token from a file, which
  /// only the operator can replace); false when the provider can get a new
  /// one itself (Azure, Google: access tokens from a client secret or a
  /// service-account key, fetched again after a 401).
  virtual bool expire_credential() { return false; }
  virtual void renew_credential() {}
  /// KMS calls the server refused for a dead credential (401) so far:
  /// shows that an expiry the provider recovered from by itself happened.
  virtual int credential_refusals() { return 0; }
};

/// One fault both reliability suites make (faults_test.cpp, soak_test.cpp).
struct FaultCase {
  enum class Way {
    proxy,   ///< the proxy's `fault`
    freeze,  ///< SIGSTOP the server for longer than the deadline, then SIGCONT
    kill,    ///< SIGKILL the server, then start it again on its data
    lie,     ///< Remote::lie(): well-formed, wrong unwrap answers
    expire,  ///< Remote::expire_credential(), then renew_credential()
  };
  const char* name;
  Way way;
  TcpProxy::Fault fault;  ///< with Way::proxy
  bool unhealthy;         ///< the fault must make the probe fail
};

/// Every fault, in the order of docs/reliability.md's table.
const std::vector<FaultCase>& fault_cases();
/// Whether a server of `kind` can be made to suffer `fault`
/// (Remote::can_lie(), can_restart(), can_expire()).
bool can_suffer(Remote::Kind kind, const FaultCase& fault);
/// Makes `fault` on `remote` behind `proxy`. Returns whether a probe must
/// notice it (the provider turns unhealthy until end_fault()).
bool begin_fault(const FaultCase& fault, Remote& remote, TcpProxy& proxy);
/// Ends it; false when a killed server did not start again.
bool end_fault(const FaultCase& fault, Remote& remote, TcpProxy& proxy);
/// The `health:` section of both suites: probes every few hundred
/// milliseconds, so that a fault is noticed and its end seen quickly,
/// each probe given `probe_timeout`.
std::string fast_health(const std::string& probe_timeout);

}  // namespace trousseau::testkit
