#include "providers/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/serialize.hpp>

#include "common/base64url.hpp"

namespace trousseau::providers {

namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

}  // namespace

void PrivateKeyFree::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

Result<PrivateKey> read_rsa_private_key(ByteView pem, std::string_view what) {
  std::unique_ptr<BIO, Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PrivateKey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    return Error(Code::failed_precondition,
                 "no unencrypted PEM private key in " + std::string(what));
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return Error(Code::failed_precondition, "the key in " + std::string(what) + " must be RSA (RS256)");
  }
  return key;
}

Result<std::string> sign_jwt_rs256(EVP_PKEY& key, const boost::json::object& extra_header,
                                   const boost::json::object& claims) {
  boost::json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
  for (const auto& [name, value] : extra_header) header[name] = value;
  std::string input = base64url_encode(as_bytes(boost::json::serialize(header))) + "." +
                      base64url_encode(as_bytes(boost::json::serialize(claims)));
  std::unique_ptr<EVP_MD_CTX, Free> ctx(EVP_MD_CTX_new());
  std::size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, &key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len, as_bytes(input).data(), input.size()) != 1) {
    return internal_error("cannot sign the JWT");
  }
  Bytes sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len, as_bytes(input).data(), input.size()) != 1) {
    return internal_error("cannot sign the JWT");
  }
  sig.resize(sig_len);
  return input + "." + base64url_encode(sig);
}

}  // namespace trousseau::providers
