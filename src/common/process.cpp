#include "common/process.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace trousseau {

Error harden_process() {
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) {
    return internal_error(std::string("setrlimit(RLIMIT_CORE, 0): ") + std::strerror(errno));
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return internal_error(std::string("prctl(PR_SET_DUMPABLE, 0): ") + std::strerror(errno));
  }
  return {};
}

}  // namespace trousseau
