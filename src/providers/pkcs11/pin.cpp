#include "providers/pkcs11/pin.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>

#include "common/file.hpp"

namespace trousseau::providers::pkcs11 {

namespace {

ByteView strip_newline(ByteView pin) {
  if (!pin.empty() && pin.back() == '\n') pin = pin.first(pin.size() - 1);
  if (!pin.empty() && pin.back() == '\r') pin = pin.first(pin.size() - 1);
  return pin;
}

/// A PIN is short; a file much longer than one is a mistake.
constexpr SecretFileRules kPinFileRules{.what = "PIN file", .max_size = 1024};

PinVersion version_of(const SecretFile& file) {
  PinVersion version;
  version.file = file.version();
  return version;
}

Result<PinVersion> file_version(const std::string& path) {
  Result<SecretFile> file = open_secret_file(path, kPinFileRules);
  if (!file.ok()) return file.error();
  return version_of(*file);
}

Result<Pin> read_file(const std::string& path) {
  Result<SecretFile> file = open_secret_file(path, kPinFileRules);
  if (!file.ok()) return file.error();
  Result<SecretBytes> raw = file->read();
  if (!raw.ok()) return raw.error();
  Pin pin;
  pin.value = SecretBytes(strip_newline(raw->view()));
  pin.version = version_of(*file);
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
