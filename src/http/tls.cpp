#include "http/tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

namespace trousseau::http {

Error verify_peer(asio::ssl::stream<asio::ip::tcp::socket>& stream, const std::string& host) {
  SSL* ssl = stream.native_handle();
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
  stream.set_verify_mode(asio::ssl::verify_peer);
  return {};
}

Result<asio::ssl::context> make_tls_context(const TlsOptions& options) {
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
