#include "providers/azurekv/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json/object.hpp>
#include <memory>

#include "common/base64url.hpp"
#include "common/secret.hpp"
#include "providers/jwt.hpp"

namespace trousseau::providers::azurekv {

namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

}  // namespace

Result<std::string> client_assertion(ByteView pem, const std::string& client_id,
                                     const std::string& audience,
                                     std::chrono::system_clock::time_point now) {
  Owned<BIO> cert_bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<X509> cert(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Error(Code::failed_precondition, "no PEM certificate in the certificate file");
  Result<PrivateKey> key = read_rsa_private_key(pem, "the certificate file");
  if (!key.ok()) return key.error();
  if (X509_check_private_key(cert.get(), key->get()) != 1) {
    return Error(Code::failed_precondition,
                 "the private key in the certificate file does not match its certificate");
  }
  // x5t: base64url of the SHA-1 of the certificate's DER encoding.
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) return internal_error("cannot encode the certificate");
  unsigned char sha1[20];
  unsigned int sha1_len = 0;
  const bool hashed = EVP_Digest(der, static_cast<std::size_t>(der_len), sha1, &sha1_len,
                                 EVP_sha1(), nullptr) == 1;
  OPENSSL_free(der);
  if (!hashed) return internal_error("cannot hash the certificate");

  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  Bytes jti(16);
  random_fill(jti);
  const boost::json::object claims = {{"aud", audience},    {"iss", client_id},
                                      {"sub", client_id},   {"jti", hex_encode(jti)},
                                      {"nbf", seconds},     {"iat", seconds},
                                      {"exp", seconds + 600}};
  return sign_jwt_rs256(**key, {{"x5t", base64url_encode(ByteView(sha1, sha1_len))}}, claims);
}

}  // namespace trousseau::providers::azurekv
