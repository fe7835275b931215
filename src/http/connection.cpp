#include "http/connection.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <cstdint>

#include "common/secret.hpp"

namespace trousseau::http {

Connection::Connection(const asio::any_io_executor& io, asio::ssl::context& tls, const Url& url)
    : resolver_(io), stream_(io, tls), tls_(url.tls()), origin_(url.origin()) {}

Error Connection::prepare_tls(const std::string& host) {
  SSL* ssl = stream_.native_handle();
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                 : SSL_set1_host(ssl, host.c_str());
  // SNI carries names only, never addresses (RFC 6066 section 3).
  if (ok == 1 && !is_ip) ok = static_cast<int>(SSL_set_tlsext_host_name(ssl, host.c_str()));
  if (ok != 1) return internal_error("cannot set up TLS peer verification for " + host);
  stream_.set_verify_mode(asio::ssl::verify_peer);
  return {};
}

void Connection::close() {
  boost::system::error_code ec;
  resolver_.cancel();
  stream_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.next_layer().close(ec);
}

void Connection::scrub() {
  buffer_.consume(buffer_.size());
  auto storage = buffer_.prepare(buffer_.capacity());
  secure_wipe({static_cast<std::uint8_t*>(storage.data()), storage.size()});
}

Client::Pool::Pool(asio::any_io_executor io_, ClientOptions options_, asio::ssl::context tls_)
    : io(std::move(io_)), options(std::move(options_)), tls(std::move(tls_)) {}

std::unique_ptr<Connection> Client::Pool::take(const std::string& origin) {
  std::lock_guard lock(mutex_);
  auto it = idle_.find(origin);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = Clock::now();
  while (!list.empty()) {
    std::unique_ptr<Connection> c = std::move(list.back());
    list.pop_back();
    if (now - c->idle_since < options.idle_timeout) return c;
    c->close();  // too old: the server has probably closed it already
  }
  return nullptr;
}

void Client::Pool::give_back(std::unique_ptr<Connection> c) {
  c->idle_since = Clock::now();
  std::lock_guard lock(mutex_);
  auto& list = idle_[c->origin()];
  if (list.size() >= options.max_idle_per_origin) {
    c->close();
    return;
  }
  list.push_back(std::move(c));
}

std::unique_ptr<Connection> Client::Pool::connect_new(const Url& url) {
  return std::make_unique<Connection>(io, tls, url);
}

std::size_t Client::Pool::idle_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [origin, list] : idle_) n += list.size();
  return n;
}

Result<asio::ssl::context> make_tls_context(const ClientOptions& options) {
  const std::string& ca_file = options.ca_file;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1,
                  ec);
  if (!ec && SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1) {
    return internal_error("cannot require TLS 1.2");
  }
  if (!ec) {
    if (ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(ca_file, ec);
    }
  }
  if (ec) {
    return Error(Code::failed_precondition,
                 "cannot load CA certificates" +
                     (ca_file.empty() ? std::string(" from the system store")
                                      : " from " + ca_file) +
                     ": " + ec.message());
  }
  ctx.set_verify_mode(asio::ssl::verify_peer, ec);
  if (options.client_cert_file.empty() != options.client_key_file.empty()) {
    return Error(Code::failed_precondition,
                 "a client certificate needs both a certificate file and a key file");
  }
  if (!options.client_cert_file.empty()) {
    ctx.use_certificate_chain_file(options.client_cert_file, ec);
    if (ec) {
      return Error(Code::failed_precondition, "cannot load the client certificate from " +
                                                  options.client_cert_file + ": " + ec.message());
    }
    ctx.use_private_key_file(options.client_key_file, asio::ssl::context::pem, ec);
    if (ec) {
      // OpenSSL's reason only: never the key's content.
      return Error(Code::failed_precondition, "cannot load the client key from " +
                                                  options.client_key_file + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return Error(Code::failed_precondition, "the client key " + options.client_key_file +
                                                  " does not match the certificate " +
                                                  options.client_cert_file);
    }
  }
  return ctx;
}

}  // namespace trousseau::http
