#include "providers/pkcs11/token.hpp"

#include <vector>

#include "providers/pkcs11/ckr.hpp"

namespace trousseau::providers::pkcs11 {

namespace {

/// PKCS#11 pads fixed-size text fields with spaces.
template <std::size_t N>
std::string unpad(const CK_UTF8CHAR (&field)[N]) {
  std::string s(reinterpret_cast<const char*>(field), N);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

Result<std::vector<CK_SLOT_ID>> slots_with_tokens(const CK_FUNCTION_LIST& api) {
  std::vector<CK_SLOT_ID> slots;
  CK_RV rv = CKR_BUFFER_TOO_SMALL;
  for (int attempt = 0; attempt < 3 && rv == CKR_BUFFER_TOO_SMALL; ++attempt) {
    CK_ULONG count = 0;
    rv = api.C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv != CKR_OK) break;
    slots.resize(count);
    rv = api.C_GetSlotList(CK_TRUE, slots.data(), &count);
    slots.resize(count);
  }
  if (rv != CKR_OK) return to_error({rv, "C_GetSlotList"});
  return slots;
}

Result<Token> token_in(const CK_FUNCTION_LIST& api, CK_SLOT_ID slot) {
  CK_TOKEN_INFO info{};
  if (CK_RV rv = api.C_GetTokenInfo(slot, &info); rv != CKR_OK) {
    return to_error({rv, "C_GetTokenInfo"}).prefixed("slot " + std::to_string(slot));
  }
  return Token{slot, unpad(info.label), unpad(info.serialNumber),
               (info.flags & CKF_TOKEN_INITIALIZED) != 0};
}

/// Reads variable-length attribute `type` of `object`.
Result<Bytes> attribute(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session,
                        CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  if (CK_RV rv = api.C_GetAttributeValue(session, object, &a, 1); rv != CKR_OK) {
    return to_error({rv, "C_GetAttributeValue"});
  }
  if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) return Bytes{};
  Bytes value(a.ulValueLen);
  a.pValue = value.data();
  if (CK_RV rv = api.C_GetAttributeValue(session, object, &a, 1); rv != CKR_OK) {
    return to_error({rv, "C_GetAttributeValue"});
  }
  value.resize(a.ulValueLen);
  return value;
}

bool flag_set(const Result<Bytes>& value) {
  return value.ok() && value->size() == sizeof(CK_BBOOL) && value->front() == CK_TRUE;
}

}  // namespace

Result<Token> find_token(const CK_FUNCTION_LIST& api, const std::optional<std::string>& label,
                         std::optional<std::uint64_t> slot) {
  if (slot) return token_in(api, static_cast<CK_SLOT_ID>(*slot));
  Result<std::vector<CK_SLOT_ID>> slots = slots_with_tokens(api);
  if (!slots.ok()) return slots.error();
  std::vector<Token> matches;
  std::string seen;
  for (CK_SLOT_ID s : *slots) {
    Result<Token> t = token_in(api, s);
    // A token pulled out meanwhile, or a blank one, is not ours to report.
    if (!t.ok() || !t->initialized) continue;
    seen += (seen.empty() ? "'" : ", '") + t->label + "'";
    if (label && t->label == *label) matches.push_back(std::move(t.value()));
  }
  if (matches.size() == 1) return std::move(matches.front());
  if (matches.empty()) {
    return Error(Code::failed_precondition,
                 "no token labelled '" + label.value_or("") +
                     "' (tokens present: " + (seen.empty() ? "none" : seen) + ")");
  }
  return Error(Code::failed_precondition, std::to_string(matches.size()) +
                                              " tokens are labelled '" + label.value_or("") +
                                              "'; select one by slot");
}

std::string describe(const KeySelector& selector) {
  std::string out;
  if (selector.label) out = "labelled '" + *selector.label + "'";
  if (selector.id)
    out += (out.empty() ? "" : " ") + std::string("with id ") + hex_encode(*selector.id);
  return out;
}

Result<Key> find_key(const CK_FUNCTION_LIST& api, CK_SESSION_HANDLE session,
                     const KeySelector& selector) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  Bytes label_bytes = to_bytes(selector.label.value_or(""));
  Bytes id = selector.id.value_or(Bytes{});
  std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof cls},
                                    {CKA_KEY_TYPE, &type, sizeof type}};
  if (selector.label) tmpl.push_back({CKA_LABEL, label_bytes.data(), label_bytes.size()});
  if (selector.id) tmpl.push_back({CKA_ID, id.data(), id.size()});

  if (CK_RV rv = api.C_FindObjectsInit(session, tmpl.data(), tmpl.size()); rv != CKR_OK) {
    return to_error({rv, "C_FindObjectsInit"});
  }
  CK_OBJECT_HANDLE found[2] = {CK_INVALID_HANDLE, CK_INVALID_HANDLE};
  CK_ULONG count = 0;
  CK_RV rv = api.C_FindObjects(session, found, 2, &count);
  (void)api.C_FindObjectsFinal(session);
  if (rv != CKR_OK) return to_error({rv, "C_FindObjects"});
  if (count == 0) {
    return Error(Code::failed_precondition,
                 "no AES secret key " + describe(selector) + " on the token");
  }
  if (count > 1) {
    return Error(Code::failed_precondition,
                 "several AES secret keys are " + describe(selector) + "; give key_id as well");
  }

  Key key{found[0], {}, {}};
  Result<Bytes> key_id = attribute(api, session, key.handle, CKA_ID);
  Result<Bytes> key_label = attribute(api, session, key.handle, CKA_LABEL);
  if (!key_id.ok()) return key_id.error();
  if (!key_label.ok()) return key_label.error();
  key.id = std::move(key_id.value());
  key.label = std::string(as_chars(*key_label));
  if (!flag_set(attribute(api, session, key.handle, CKA_ENCRYPT)) ||
      !flag_set(attribute(api, session, key.handle, CKA_DECRYPT))) {
    return Error(Code::failed_precondition,
                 "the key " + describe(selector) + " must allow CKA_ENCRYPT and CKA_DECRYPT");
  }
  return key;
}

}  // namespace trousseau::providers::pkcs11
