// A loaded PKCS#11 module, initialized once per process however many
// providers use it.
#pragma once

#include <memory>
#include <string>

#include "common/error.hpp"
#include "providers/pkcs11/cryptoki.hpp"

namespace trousseau::providers::pkcs11 {

/// One user's reference to a module. The first reference to a path
/// dlopen()s it and calls C_Initialize (CKF_OS_LOCKING_OK); the last one
/// calls C_Finalize. Paths are compared after resolving symlinks.
class Module {
 public:
  /// Loads `path`, or shares the already loaded module. Blocking.
  static Result<std::unique_ptr<Module>> load(const std::string& path);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const CK_FUNCTION_LIST& api() const { return *api_; }
  const std::string& path() const { return path_; }

 private:
  Module(std::string path, CK_FUNCTION_LIST* api) : path_(std::move(path)), api_(api) {}

  std::string path_;
  CK_FUNCTION_LIST* api_;
};

}  // namespace trousseau::providers::pkcs11
