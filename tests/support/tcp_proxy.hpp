// A loopback TCP proxy of the tests' own, in front of a real server, so that
// one client (one node, one provider) can be cut off from it, or see it
// misbehave, while others still reach it. It copies bytes both ways and
// understands nothing of them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace trousseau::testkit {

class TcpProxy {
 public:
  /// What the proxy does to traffic; set at any time, applies to every
  /// byte from then on (open connections included).
  enum class Fault {
    none,            ///< forward both ways
    refuse,          ///< reset every connection, open or new
    blackhole,       ///< accept and read, but forward nothing and answer nothing
    reset_response,  ///< forward requests; reset after the first bytes of an answer
    garbage,         ///< forward requests; answers arrive as random bytes
    latency,         ///< forward everything, each chunk after `delay`
    /// forward everything, but change one base64 character inside the
    /// value of the JSON field `"Plaintext"` (AWS KMS) or `"plaintext"`
    /// (Vault Transit) of an answer: a well-formed
    /// answer carrying a wrong secret, as a lying or broken KMS would give
    wrong_plaintext,
  };

  /// Listens on a free 127.0.0.1 port and forwards every connection to
  /// 127.0.0.1:`upstream_port`, on a thread of its own.
  explicit TcpProxy(std::uint16_t upstream_port);
  /// Closes every connection and stops the thread.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const;
  std::string endpoint() const;  ///< "http://127.0.0.1:<port>/"
  std::string host_port() const;  ///< "127.0.0.1:<port>"

  /// When it returns, the fault applies: with `refuse`, no connection is
  /// open any more.
  void set_fault(Fault fault, std::chrono::milliseconds delay = {});
  void cut() { set_fault(Fault::refuse); }
  void restore() { set_fault(Fault::none); }
  /// Connections accepted so far, forwarded or not.
  std::size_t accepted() const;
  /// The descriptors the proxy holds open for its connections now (each
  /// link's client and upstream sockets), so that a test can count its
  /// own process's descriptors without the proxy's. A link stays open
  /// while its upstream connect is pending (a frozen server), whatever its
  /// client does meanwhile.
  std::size_t open_sockets() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace trousseau::testkit
