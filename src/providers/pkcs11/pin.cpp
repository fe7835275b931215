#include "providers/pkcs11/pin.hpp"

#include <fcntl.h>
#include <unistd.h>

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

Result<SecretBytes> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unavailable("PIN file " + path + ": " + std::strerror(errno));
  std::array<std::uint8_t, 1024> buf{};
  std::size_t used = 0;
  ssize_t n = 0;
  while (used < buf.size() && (n = ::read(fd, buf.data() + used, buf.size() - used)) > 0) {
    used += static_cast<std::size_t>(n);
  }
  int err = errno;
  ::close(fd);
  Result<SecretBytes> pin = SecretBytes(strip_newline(ByteView(buf).first(used)));
  if (n < 0) pin = unavailable("PIN file " + path + ": " + std::strerror(err));
  if (used == buf.size())
    pin = Error(Code::failed_precondition, "PIN file " + path + " is too long");
  secure_wipe(buf);
  return pin;
}

}  // namespace

Result<SecretBytes> read_pin(const PinSource& source) {
  Result<SecretBytes> pin = SecretBytes();
  if (!source.file.empty()) {
    pin = read_file(source.file);
  } else {
    const char* value = std::getenv(source.env.c_str());
    if (value == nullptr)
      return Error(Code::failed_precondition, "PIN variable " + source.env + " is not set");
    pin = SecretBytes(strip_newline(as_bytes(value)));
  }
  if (pin.ok() && pin->empty()) {
    return Error(Code::failed_precondition,
                 "the PIN in " + (source.file.empty() ? "variable " + source.env : source.file) +
                     " is empty");
  }
  return pin;
}

}  // namespace trousseau::providers::pkcs11
