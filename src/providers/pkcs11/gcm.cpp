#include "providers/pkcs11/gcm.hpp"

namespace trousseau::providers::pkcs11 {

namespace {

// PKCS#11 takes non-const pointers even for inputs it only reads.
CK_BYTE_PTR in(ByteView b) { return const_cast<CK_BYTE_PTR>(b.data()); }

CK_GCM_PARAMS gcm_params(ByteView iv, ByteView aad) {
  CK_GCM_PARAMS p{};
  p.pIv = in(iv);
  p.ulIvLen = iv.size();
  p.ulIvBits = iv.size() * 8;  // read by modules that follow 2.40 errata
  p.pAAD = in(aad);
  p.ulAADLen = aad.size();
  p.ulTagBits = kTagSize * 8;
  return p;
}

}  // namespace

Rv gcm_seal(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
            ByteView aad, ByteView plaintext, Bytes& wrapped) {
  Bytes out(kIvSize + plaintext.size() + kTagSize);
  random_fill(std::span(out).first(kIvSize));  // never the token's: see docs/providers/pkcs11.md
  CK_GCM_PARAMS params = gcm_params(ByteView(out).first(kIvSize), aad);
  CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof params};
  if (CK_RV rv = api.C_EncryptInit(session, &mech, key); rv != CKR_OK) return {rv, "C_EncryptInit"};
  CK_ULONG len = out.size() - kIvSize;
  if (CK_RV rv =
          api.C_Encrypt(session, in(plaintext), plaintext.size(), out.data() + kIvSize, &len);
      rv != CKR_OK) {
    return {rv, "C_Encrypt"};
  }
  if (len != plaintext.size() + kTagSize) return {CKR_GENERAL_ERROR, "C_Encrypt"};
  wrapped = std::move(out);
  return {};
}

Rv gcm_open(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
            ByteView aad, ByteView wrapped, SecretBytes& plaintext) {
  ByteView sealed = wrapped.subspan(kIvSize);
  CK_GCM_PARAMS params = gcm_params(wrapped.first(kIvSize), aad);
  CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof params};
  if (CK_RV rv = api.C_DecryptInit(session, &mech, key); rv != CKR_OK) return {rv, "C_DecryptInit"};
  // Some modules want room for the whole input before they strip the tag.
  SecretBytes out(sealed.size());
  CK_ULONG len = out.size();
  if (CK_RV rv = api.C_Decrypt(session, in(sealed), sealed.size(), out.data(), &len);
      rv != CKR_OK) {
    return {rv, "C_Decrypt"};
  }
  if (len != sealed.size() - kTagSize) return {CKR_GENERAL_ERROR, "C_Decrypt"};
  plaintext = SecretBytes(out.view().first(len));
  return {};
}

Rv gcm_self_test(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
  static constexpr std::string_view kContext = "trousseau.io/pkcs11/self-test/v1";
  const Bytes zeros(32, 0);
  Bytes wrapped;
  SecretBytes back;
  if (Rv rv = gcm_seal(api, session, key, as_bytes(kContext), zeros, wrapped); !rv.ok()) return rv;
  if (Rv rv = gcm_open(api, session, key, as_bytes(kContext), wrapped, back); !rv.ok()) return rv;
  if (!back.equals(zeros)) return {CKR_GENERAL_ERROR, "C_Decrypt (self-test returned other bytes)"};
  return {};
}

}  // namespace trousseau::providers::pkcs11
