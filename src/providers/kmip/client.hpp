// KMIP over TLS: one request message, one response message, on a pool of
// mutually authenticated keep-alive connections. The protocol version is
// negotiated with Discover Versions on each new connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/secret.hpp"
#include "http/tls.hpp"
#include "providers/kmip/messages.hpp"
#include "providers/kmip/ttlv.hpp"
#include "providers/operation.hpp"

namespace trousseau::providers::kmip {

struct ClientOptions {
  std::string host;
  std::uint16_t port = 5696;
  /// Verified in the server's certificate and sent as SNI; empty: `host`.
  std::string server_name;
  http::TlsOptions tls;
  /// Ours, in order of preference: the first one the server lists wins.
  std::vector<ProtocolVersion> versions;
  std::size_t max_idle = 4;
  /// Idle connections older than this are closed rather than reused.
  Clock::duration idle_timeout = std::chrono::seconds(60);
  Limits limits;
};

/// One per provider; thread-safe.
///
/// call() contract:
///  1. It runs on `op`'s strand and calls `done` exactly once, on that
///     strand, never from inside call().
///  2. It takes an idle connection or opens one (resolve, connect, TLS
///     handshake with the client certificate, Discover Versions), writes the
///     request that `build` appends for the connection's version (or
///     completes with the error `build` returns), and reads one whole
///     response message, bounded by options.limits.
///  3. A reused connection that fails before any byte of the response
///     arrived (the server restarted, or closed it while idle) is replaced
///     once by a new one: every request we send may be repeated safely.
///     Other failures complete with Code::unavailable naming the stage.
///  4. `deadline` completes with Code::deadline_exceeded, and a
///     cancellation on op's child slot with Code::cancelled; both close the
///     socket at once, whatever stage it is in (a stalled handshake
///     included). A connection is returned to the pool only after a whole
///     response was read.
///  5. The request buffer is wiped after it was written, and the response
///     is read into SecretBytes: a Decrypt answer holds key material.
class Client {
 public:
  /// Appends the request for the connection's version, or says why that
  /// version cannot carry it (nothing is sent then).
  using Build = std::function<Error(ProtocolVersion, Bytes&)>;
  using Done = std::function<void(Error, ProtocolVersion, SecretBytes)>;

  /// failed_precondition when the CA, certificate or key cannot be loaded.
  static Result<std::shared_ptr<Client>> create(asio::any_io_executor io, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void call(const std::shared_ptr<OperationState>& op, Build build, Clock::time_point deadline,
            Done done);

  const ClientOptions& options() const;
  /// "host:port", for messages.
  const std::string& endpoint() const;
  /// For tests and metrics.
  std::size_t idle_count() const;
  std::size_t connections_opened() const;

  struct Pool;

 private:
  explicit Client(std::shared_ptr<Pool> pool);
  std::shared_ptr<Pool> pool_;  ///< shared with the calls in flight
};

}  // namespace trousseau::providers::kmip
