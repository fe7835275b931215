// An asynchronous HTTP/1.1 client for providers that talk to a KMS over
// HTTPS: keep-alive pooling, TLS verification, deadlines, cancellation and
// retries with full jitter.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "http/message.hpp"
#include "http/retry.hpp"
#include "http/tls.hpp"

namespace trousseau::http {

namespace asio = boost::asio;

/// TlsOptions: the CA file, and a client certificate and key presented when
/// the server asks (mutual TLS, e.g. Vault's cert auth). Read once, by
/// create().
struct ClientOptions : TlsOptions {
  /// The name sent as SNI and verified in the server's certificate instead
  /// of the URL's host, for a server reached by an address or alias its
  /// certificate does not name. Empty: the URL's host.
  std::string server_name;
  /// Plain http:// is refused unless this is set (tests against a local
  /// emulator); https is the default and the norm.
  bool allow_plain_http = false;
  /// Idle keep-alive connections kept per origin (scheme, host, port).
  std::size_t max_idle_per_origin = 8;
  /// Idle connections older than this are not reused (servers close them).
  std::chrono::milliseconds idle_timeout{30000};
  std::size_t max_response_body = 1 << 20;
  RetryPolicy retry;
  /// The pause before each retry; empty means full_jitter. Tests set a fixed
  /// pause so that, under ManualTime, they know how far to advance.
  BackoffFunction backoff;
};

using ResponseSignature = void(Error, Response);

/// One client per provider instance; thread-safe.
///
/// async_request(request, deadline, token) completes exactly once with
/// (Error, Response), on the handler's associated executor and never from
/// inside the initiating call:
///  1. Any response below 500 other than 429 completes with an ok Error: the
///     caller interprets 4xx bodies.
///  2. Connection and I/O failures, 5xx, 429, and responses for which
///     request.retry_if is true are retried after a pause (options.backoff,
///     full jitter by default), at most retry.max_attempts times in all. A
///     retry whose pause would reach the deadline is not made: the request
///     completes at once with what the last attempt gave. A failed TLS
///     handshake is not retried: certificate problems do not go away.
///     A reused keep-alive connection that turns out closed is replaced once
///     without counting as an attempt. A response's Retry-After (seconds)
///     lengthens the pause to at least that; no retry is made when it would
///     reach the deadline.
///  3. When retries run out: connection/TLS failures and 5xx complete with
///     Code::unavailable (5xx with the response too); 429 and retry_if
///     responses complete with an ok Error and the last response.
///  4. The deadline completes with Code::deadline_exceeded and a terminal,
///     partial or total cancellation on the handler's slot with
///     Code::cancelled; both close the socket at once so the I/O stops.
///  5. http:// without allow_plain_http: Code::failed_precondition.
///  6. create() fails with Code::failed_precondition when a CA file, client
///     certificate or key cannot be loaded, or the key does not match.
class Client {
 public:
  static Result<std::unique_ptr<Client>> create(asio::any_io_executor executor,
                                                ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  template <typename Token>
  auto async_request(Request request, Deadline deadline, Token&& token) {
    return asio::async_initiate<Token, ResponseSignature>(
        [this](auto handler, Request r, Deadline d) {
          request_impl(std::move(r), d, std::move(handler));
        },
        token, std::move(request), deadline);
  }

  /// Idle pooled connections, all origins (for tests and metrics).
  std::size_t idle_connections() const;
  /// Requests parked on their pause before a retry, the timer already armed
  /// (for metrics, and for tests that must know the client is waiting before
  /// they advance a ManualTime).
  std::size_t waiting_to_retry() const;

  struct Pool;

 private:
  explicit Client(std::shared_ptr<Pool> pool);
  void request_impl(Request request, Deadline deadline,
                    asio::any_completion_handler<ResponseSignature> handler);

  std::shared_ptr<Pool> pool_;  ///< shared with in-flight exchanges
};

}  // namespace trousseau::http
