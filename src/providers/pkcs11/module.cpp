#include "providers/pkcs11/module.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "common/log.hpp"
#include "providers/pkcs11/ckr.hpp"

namespace trousseau::providers::pkcs11 {

namespace {

struct Loaded {
  CK_FUNCTION_LIST* api = nullptr;
  bool finalize = false;  ///< false when someone else had initialized it
  unsigned users = 0;
};

// One lock orders every load and release, so a C_Finalize can never race a
// C_Initialize of the same module.
std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, Loaded>& table() {
  static std::map<std::string, Loaded> t;
  return t;
}

Result<Loaded> open_module(const std::string& path) {
  // Never dlclose()d: modules commonly leave atexit handlers and thread-local
  // destructors behind, and unloading them is a classic crash at exit.
  void* dl = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) {
    const char* why = ::dlerror();
    return unavailable("cannot load " + path + ": " + (why != nullptr ? why : "dlopen failed"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(dl, "C_GetFunctionList"));
  if (get_list == nullptr) {
    return Error(Code::failed_precondition,
                 path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  Loaded loaded;
  if (Error e = to_error({get_list(&loaded.api), "C_GetFunctionList"}); !e.ok()) return e;
  if (loaded.api == nullptr) return internal_error("C_GetFunctionList returned no function list");
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = loaded.api->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return to_error({rv, "C_Initialize"}).prefixed(path);
  }
  loaded.finalize = rv == CKR_OK;
  CK_INFO info{};
  if (loaded.api->C_GetInfo(&info) == CKR_OK) {
    log::info("loaded PKCS#11 module",
              {{"path", path},
               {"cryptoki", std::to_string(info.cryptokiVersion.major) + "." +
                                std::to_string(info.cryptokiVersion.minor)}});
  }
  return loaded;
}

}  // namespace

Result<std::unique_ptr<Module>> Module::load(const std::string& path) {
  std::error_code ec;
  std::string real = std::filesystem::canonical(path, ec).string();
  if (ec) return unavailable("PKCS#11 module " + path + ": " + ec.message());
  std::lock_guard lock(table_mutex());
  auto it = table().find(real);
  if (it == table().end()) {
    Result<Loaded> loaded = open_module(real);
    if (!loaded.ok()) return loaded.error();
    it = table().emplace(real, *loaded).first;
  }
  ++it->second.users;
  return std::unique_ptr<Module>(new Module(real, it->second.api));
}

Module::~Module() {
  std::lock_guard lock(table_mutex());
  auto it = table().find(path_);
  if (it == table().end() || --it->second.users > 0) return;
  if (it->second.finalize) {
    if (CK_RV rv = api_->C_Finalize(nullptr); rv != CKR_OK) {
      log::warn("C_Finalize failed", {{"path", path_}, {"rv", ckr_name(rv)}});
    }
  }
  table().erase(it);
}

}  // namespace trousseau::providers::pkcs11
