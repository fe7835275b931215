#include "common/fd.hpp"

#include <unistd.h>

namespace trousseau {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) ::close(fd_);  // no EINTR retry: see the header
  fd_ = fd;
}

}  // namespace trousseau
