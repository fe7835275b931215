// A loopback TCP proxy of the tests' own, in front of a real server, so that
// one client (one node, one provider) can be cut off from it while others
// still reach it. It copies bytes both ways and understands nothing of
// them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace trousseau::testkit {

class TcpProxy {
 public:
  /// Listens on a free 127.0.0.1 port and forwards every connection to
  /// 127.0.0.1:`upstream_port`, on a thread of its own.
  explicit TcpProxy(std::uint16_t upstream_port);
  /// Closes every connection and stops the thread.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const;
  std::string endpoint() const;  ///< "http://127.0.0.1:<port>/"

  /// Resets every open connection and, until restore(), every new one as
  /// soon as it is accepted. When it returns, no byte passes any more.
  void cut();
  void restore();
  /// Connections accepted so far, forwarded or not.
  std::size_t accepted() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace trousseau::testkit
