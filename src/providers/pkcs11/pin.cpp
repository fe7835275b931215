#include "providers/pkcs11/pin.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace trousseau::providers::pkcs11 {

namespace {

ByteView strip_newline(ByteView pin) {
  if (!pin.empty() && pin.back() == '\n') pin = pin.first(pin.size() - 1);
  if (!pin.empty() && pin.back() == '\r') pin = pin.first(pin.size() - 1);
  return pin;
}

/// Closes the descriptor on every path out.
class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

Error file_error(const std::string& path, int err) {
  // O_NOFOLLOW: a symlink someone could re-point is refused like a loose mode.
  if (err == ELOOP) {
    return Error(Code::failed_precondition,
                 "PIN file " + path + " is a symbolic link; name the file itself");
  }
  return unavailable("PIN file " + path + ": " + std::strerror(err));
}

/// Opens the file without following a final symlink, checks it is a
/// private regular file, and records its version.
Error open_checked(const std::string& path, int& fd, PinVersion& version) {
  // O_NONBLOCK: a FIFO in its place must not hang the login before the check.
  fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return file_error(path, errno);
  struct ::stat st {};
  if (::fstat(fd, &st) != 0) return file_error(path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Error(Code::failed_precondition, "PIN file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return Error(Code::failed_precondition,
                 "PIN file " + path + " is accessible by group or others; chmod 600 it");
  }
  version.dev = st.st_dev;
  version.ino = st.st_ino;
  version.size = st.st_size;
  version.mtime_sec = st.st_mtim.tv_sec;
  version.mtime_nsec = st.st_mtim.tv_nsec;
  return {};
}

Result<PinVersion> file_version(const std::string& path) {
  int fd = -1;
  PinVersion version;
  Error e = open_checked(path, fd, version);
  OpenFile file(fd);
  if (!e.ok()) return e;
  return version;
}

Result<Pin> read_file(const std::string& path) {
  int fd = -1;
  Pin pin;
  Error e = open_checked(path, fd, pin.version);
  OpenFile file(fd);
  if (!e.ok()) return e;
  std::array<std::uint8_t, 1024> buf{};
  std::size_t used = 0;
  ssize_t n = 0;
  while (used < buf.size() && (n = ::read(fd, buf.data() + used, buf.size() - used)) > 0) {
    used += static_cast<std::size_t>(n);
  }
  const int err = errno;
  pin.value = SecretBytes(strip_newline(ByteView(buf).first(used)));
  secure_wipe(buf);
  if (n < 0) return unavailable("PIN file " + path + ": " + std::strerror(err));
  if (used == buf.size()) {
    return Error(Code::failed_precondition, "PIN file " + path + " is too long");
  }
  return pin;
}

/// Tells values apart without keeping them; the salt keeps a short PIN's
/// digest from being looked up in a table.
std::array<std::uint8_t, 32> salted_digest(ByteView value) {
  static const Bytes salt = [] {
    Bytes s(32);
    random_fill(s);
    return s;
  }();
  Bytes d = sha256({salt, value});
  std::array<std::uint8_t, 32> out{};
  std::copy_n(d.begin(), std::min(d.size(), out.size()), out.begin());
  return out;
}

Result<ByteView> env_value(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return Error(Code::failed_precondition, "PIN variable " + name + " is not set");
  return strip_newline(as_bytes(value));
}

}  // namespace

std::string PinSource::describe() const {
  return file.empty() ? "PIN variable " + env : "PIN file " + file;
}

Result<PinVersion> pin_version(const PinSource& source) {
  if (!source.file.empty()) return file_version(source.file);
  Result<ByteView> value = env_value(source.env);
  if (!value.ok()) return value.error();
  PinVersion version;
  version.digest = salted_digest(*value);
  return version;
}

Result<Pin> read_pin(const PinSource& source) {
  Pin pin;
  if (!source.file.empty()) {
    Result<Pin> read = read_file(source.file);
    if (!read.ok()) return read.error();
    pin = std::move(read.value());
  } else {
    Result<ByteView> value = env_value(source.env);
    if (!value.ok()) return value.error();
    pin.value = SecretBytes(*value);
    pin.version.digest = salted_digest(*value);
  }
  if (pin.value.empty()) {
    return Error(Code::failed_precondition, "the PIN in " + source.describe() + " is empty");
  }
  return pin;
}

}  // namespace trousseau::providers::pkcs11
