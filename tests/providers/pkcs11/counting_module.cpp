// A PKCS#11 module in front of the real SoftHSM2 module: every call is
// forwarded, C_Login calls are counted, and C_Encrypt can be held at a gate
// so a test knows exactly which calls are inside the token. The real
// module's path comes from TROUSSEAU_REAL_PKCS11_MODULE.
#include "counting_module.hpp"

#include <dlfcn.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

namespace {

CK_FUNCTION_LIST* real = nullptr;
CK_FUNCTION_LIST wrapped{};
std::once_flag loaded;

std::atomic<unsigned long> logins{0};

std::mutex gate_mutex;
std::condition_variable gate_changed;
bool gate_closed = false;
unsigned held = 0;

CK_RV counting_login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                     CK_ULONG pin_len) {
  logins.fetch_add(1);
  return real->C_Login(session, user, pin, pin_len);
}

CK_RV gated_encrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
                    CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  {
    std::unique_lock lock(gate_mutex);
    if (gate_closed) {
      ++held;
      gate_changed.notify_all();
      gate_changed.wait(lock, [] { return !gate_closed; });
      --held;
    }
  }
  return real->C_Encrypt(session, data, data_len, out, out_len);
}

CK_RV load_real() {
  const char* path = std::getenv("TROUSSEAU_REAL_PKCS11_MODULE");
  if (path == nullptr) return CKR_GENERAL_ERROR;
  void* dl = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) return CKR_GENERAL_ERROR;
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(dl, "C_GetFunctionList"));
  if (get == nullptr) return CKR_GENERAL_ERROR;
  if (CK_RV rv = get(&real); rv != CKR_OK) return rv;
  wrapped = *real;
  wrapped.C_GetFunctionList = &C_GetFunctionList;
  wrapped.C_Login = &counting_login;
  wrapped.C_Encrypt = &gated_encrypt;
  return CKR_OK;
}

}  // namespace

extern "C" {

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  static CK_RV rv = CKR_OK;
  std::call_once(loaded, [] { rv = load_real(); });
  if (rv != CKR_OK) return rv;
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  *list = &wrapped;
  return CKR_OK;
}

unsigned long trousseau_p11_logins() { return logins.load(); }

void trousseau_p11_close_encrypt_gate() {
  std::lock_guard lock(gate_mutex);
  gate_closed = true;
}

void trousseau_p11_open_encrypt_gate() {
  std::lock_guard lock(gate_mutex);
  gate_closed = false;
  gate_changed.notify_all();
}

void trousseau_p11_wait_held_at_encrypt_gate(unsigned n) {
  std::unique_lock lock(gate_mutex);
  gate_changed.wait(lock, [n] { return held >= n; });
}

}  // extern "C"
