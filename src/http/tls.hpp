// TLS client set-up shared by every client that dials a KMS over TLS: the
// HTTP client and the KMIP provider's TTLV connections.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <string>

#include "common/error.hpp"

namespace trousseau::http {

namespace asio = boost::asio;

/// Whom to trust and what to present.
struct TlsOptions {
  /// PEM bundle of trusted CAs; empty means the system store.
  std::string ca_file;
  /// A client certificate (PEM, may carry its chain) and its private key
  /// (PEM), presented when the server asks (mutual TLS). Both or neither.
  std::string client_cert_file;
  std::string client_key_file;
};

/// A TLS 1.2+ client context that verifies peers against options.ca_file,
/// or the system store when it is empty, and presents the client
/// certificate, if any. failed_precondition when a file cannot be loaded or
/// the key does not match the certificate (the message names the file,
/// never key material).
Result<asio::ssl::context> make_tls_context(const TlsOptions& options);

/// SNI (for names, never addresses) and verification of `host` (a DNS name
/// or an IP address) in the peer's certificate, for one stream, before its
/// handshake.
Error verify_peer(asio::ssl::stream<asio::ip::tcp::socket>& stream, const std::string& host);

}  // namespace trousseau::http
