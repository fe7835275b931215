#include "providers/azurekv/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>

#include "common/secret.hpp"
#include "providers/azurekv/kv_messages.hpp"

namespace trousseau::providers::azurekv {

namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

Owned<BIO> memory_bio(ByteView pem) {
  return Owned<BIO>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

Result<std::string> client_assertion(ByteView pem, const std::string& client_id,
                                     const std::string& audience,
                                     std::chrono::system_clock::time_point now) {
  Owned<BIO> cert_bio = memory_bio(pem);
  Owned<X509> cert(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Error(Code::failed_precondition, "no PEM certificate in the certificate file");
  Owned<BIO> key_bio = memory_bio(pem);
  Owned<EVP_PKEY> key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                              : nullptr);
  if (!key) {
    return Error(Code::failed_precondition,
                 "no unencrypted PEM private key in the certificate file");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Error(Code::failed_precondition,
                 "the private key in the certificate file does not match its certificate");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return Error(Code::failed_precondition, "the certificate's key must be RSA (RS256)");
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
  const boost::json::value header = {{"alg", "RS256"}, {"typ", "JWT"},
                                     {"x5t", base64url_encode(ByteView(sha1, sha1_len))}};
  const boost::json::value claims = {{"aud", audience},    {"iss", client_id},
                                     {"sub", client_id},   {"jti", hex_encode(jti)},
                                     {"nbf", seconds},     {"iat", seconds},
                                     {"exp", seconds + 600}};
  std::string input = base64url_encode(as_bytes(boost::json::serialize(header))) + "." +
                      base64url_encode(as_bytes(boost::json::serialize(claims)));

  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  std::size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len, as_bytes(input).data(), input.size()) != 1) {
    return internal_error("cannot sign the client assertion");
  }
  Bytes sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len, as_bytes(input).data(), input.size()) != 1) {
    return internal_error("cannot sign the client assertion");
  }
  sig.resize(sig_len);
  return input + "." + base64url_encode(sig);
}

}  // namespace trousseau::providers::azurekv
