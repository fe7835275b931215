// A scriptable HTTP/1.1 (or HTTPS) server on 127.0.0.1 for client and
// provider tests: canned replies, throttling, 5xx, hangs, and a record of
// what it saw, including who closed each connection.
//
// Every change of its counters wakes testkit::wait_until(), so a test waits
// for the state it needs (`wait_until([&] { return s.requests() == 2; })`)
// instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/test_pki.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace trousseau::testkit {

struct Reply {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;   ///< read the request, then never answer
  bool close = false;  ///< answer with Connection: close and close
  bool drop = false;   ///< answer as if keeping alive, then close anyway
};

inline Reply respond(unsigned status, std::string body = {}) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}
inline Reply hang() {
  Reply r;
  r.hang = true;
  return r;
}

struct SeenRequest {
  std::string method, target, headers, body;
};

class LocalHttpServer {
 public:
  /// Plain HTTP, or HTTPS with the PKI's server certificate. With
  /// `client_ca` (a PEM file), the handshake also requires a client
  /// certificate issued by that CA (mutual TLS).
  explicit LocalHttpServer(const TestPki* tls = nullptr, const std::string& client_ca = {});
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1") const;

  /// Replies used in order, one per request; the last one repeats.
  void script(std::vector<Reply> replies);

  int accepted() const { return accepted_; }
  /// Connections the client closed (while the server was reading).
  int closed_by_client() const { return closed_by_client_; }
  /// Connections the server ended: after a `close` or `drop` reply, a failed
  /// TLS handshake or a failed write.
  int closed_by_server() const { return closed_by_server_; }
  /// Requests read in full, counted before the reply is sent.
  int requests() const;
  std::vector<SeenRequest> seen() const;
  /// Waits until at least `n` connections were closed by the client.
  bool wait_closed_by_client(int n, std::chrono::milliseconds timeout);

 private:
  void accept_loop();
  void serve(int fd);
  Reply next_reply();

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  SSL_CTX* tls_ = nullptr;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> workers_;
  std::vector<Reply> script_ = {Reply{}};
  std::size_t next_ = 0;
  std::vector<SeenRequest> seen_;
  std::set<int> fds_;  ///< open client sockets, guarded by a file-local mutex
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0}, closed_by_client_{0}, closed_by_server_{0};
};

}  // namespace trousseau::testkit
