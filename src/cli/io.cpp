#include "cli/io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "cli/commands.hpp"
#include "common/fd.hpp"
#include "common/secret.hpp"
#include "common/text.hpp"

namespace trousseau::cli {

namespace {
template <std::size_t N>
void wipe(char (&buffer)[N]) {
  secure_wipe(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(buffer), N));
}
}  // namespace

Result<std::string> read_input(const std::string& path, std::size_t limit) {
  const bool stdin_ = path == "-";
  const std::string name = stdin_ ? "standard input" : path;
  UniqueFd owned;
  if (!stdin_) {
    owned.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned)
      return Error(Code::failed_precondition, "cannot open " + path + ": " + std::strerror(errno));
  }
  const int fd = stdin_ ? STDIN_FILENO : owned.get();
  std::string data;
  data.reserve(std::min<std::size_t>(limit + 1, std::size_t{1} << 20));
  char buffer[16384];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(Code::unavailable, "cannot read " + name + ": " + std::strerror(errno));
    }
    if (data.size() + static_cast<std::size_t>(n) > limit) {
      wipe(buffer);
      return invalid_argument(name + " holds more than " + std::to_string(limit) + " bytes");
    }
    data.append(buffer, static_cast<std::size_t>(n));
  }
  wipe(buffer);
  return data;
}

Error write_output(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(Code::unavailable,
                   std::string("cannot write to standard output: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

int print_output(std::string_view command, std::string_view data) {
  if (Error e = write_output(data); !e.ok()) {
    print_error(command, e.message());
    return kExitFailed;
  }
  return kExitOk;
}

std::string printable(std::string_view text, std::size_t max) {
  std::string out;
  const std::string_view shown = text.substr(0, max);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const auto c = static_cast<unsigned char>(shown[i]);
    if (c < 0x20 || c >= 0x7f) {
      append_escaped(out, shown.substr(i, 1), 1, Escape::c);  // \n, \t, \xNN
    } else {
      out += static_cast<char>(c);  // quotes and backslashes stay as they are: easier to read
    }
  }
  if (shown.size() < text.size()) out += "...";
  return out;
}

std::string remove_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\v' && c != '\f') out += c;
  }
  return out;
}

void print_error(std::string_view command, std::string_view message) {
  std::cerr << "trousseau " << command << ": " << printable(message) << "\n";
}

}  // namespace trousseau::cli
