#include "common/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace trousseau {

namespace {

Error refused(const std::string& name, const std::string& rule) {
  return Error(Code::failed_precondition, name + " " + rule);
}

FileVersion version_of(const struct ::stat& st) {
  FileVersion v;
  v.dev = st.st_dev;
  v.ino = st.st_ino;
  v.size = st.st_size;
  v.mtime_sec = st.st_mtim.tv_sec;
  v.mtime_nsec = st.st_mtim.tv_nsec;
  return v;
}

std::string too_large(std::size_t max_size) {
  return "is larger than " + std::to_string(max_size) + " bytes";
}

}  // namespace

Result<SecretFile> open_secret_file(const std::string& path, const SecretFileRules& rules) {
  std::string name = std::string(rules.what) + " " + path;
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (!rules.follow_symlinks) flags |= O_NOFOLLOW;
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP && !rules.follow_symlinks) {
      return refused(name, "is a symbolic link; name the file itself");
    }
    return unavailable(name + ": " + std::strerror(err));
  }
  struct ::stat st {};
  if (::fstat(fd.get(), &st) != 0) return unavailable(name + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return refused(name, "is not a regular file");
  if (rules.owner_check && st.st_uid != ::geteuid() && st.st_uid != 0) {
    return refused(name, "is owned by uid " + std::to_string(st.st_uid) +
                             ", not by this process's user (uid " + std::to_string(::geteuid()) +
                             ") or root; chown it");
  }
  if (rules.private_mode && (st.st_mode & 077) != 0) {
    return refused(name, "is accessible by group or others; chmod 600 it");
  }
  if (static_cast<std::uint64_t>(st.st_size) > rules.max_size) {
    return refused(name, too_large(rules.max_size));
  }
  return SecretFile(std::move(fd), version_of(st), std::move(name), rules.max_size);
}

Result<SecretBytes> SecretFile::read() const {
  // One byte beyond the size seen at open tells a file that grew; growing
  // copies locked memory to locked memory, and the old buffer is wiped.
  SecretBytes buf(std::min<std::size_t>(static_cast<std::size_t>(version_.size), max_size_) + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == buf.size()) {
      if (used > max_size_) return refused(name_, too_large(max_size_));
      SecretBytes bigger(std::min(buf.size() * 2, max_size_ + 1));
      std::copy_n(buf.data(), used, bigger.data());
      buf = std::move(bigger);
    }
    const ssize_t n = ::pread(fd_.get(), buf.data() + used, buf.size() - used,
                              static_cast<off_t>(used));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable(name_ + ": " + std::strerror(errno));
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  return SecretBytes(buf.view().first(used));  // `buf` is wiped on the way out
}

Result<SecretBytes> read_secret_file(const std::string& path, const SecretFileRules& rules) {
  Result<SecretFile> file = open_secret_file(path, rules);
  if (!file.ok()) return file.error();
  return file->read();
}

}  // namespace trousseau
