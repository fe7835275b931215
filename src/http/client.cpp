#include "http/client.hpp"

#include "http/connection.hpp"
#include "http/exchange.hpp"

namespace trousseau::http {

Result<std::unique_ptr<Client>> Client::create(asio::any_io_executor executor,
                                               ClientOptions options) {
  if (options.retry.max_attempts == 0) options.retry.max_attempts = 1;
  if (!options.backoff) options.backoff = full_jitter;
  Result<asio::ssl::context> tls = make_tls_context(options);
  if (!tls.ok()) return tls.error();
  auto pool = std::make_shared<Pool>(std::move(executor), std::move(options),
                                     std::move(tls).value());
  return std::unique_ptr<Client>(new Client(std::move(pool)));
}

Client::Client(std::shared_ptr<Pool> pool) : pool_(std::move(pool)) {}

Client::~Client() = default;

void Client::request_impl(Request request, Deadline deadline,
                          asio::any_completion_handler<ResponseSignature> handler) {
  auto exchange =
      std::make_shared<Exchange>(pool_, std::move(request), deadline, std::move(handler));
  exchange->start();
}

std::size_t Client::idle_connections() const { return pool_->idle_count(); }

std::size_t Client::waiting_to_retry() const { return pool_->waiting_to_retry.load(); }

}  // namespace trousseau::http
