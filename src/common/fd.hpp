// Owning file descriptors.
#pragma once

#include <utility>

namespace trousseau {

/// Owns one file descriptor and closes it on every path out: move-only,
/// like unique_ptr, with -1 for "none".
///
/// close() is called once and never retried on EINTR: Linux frees the
/// descriptor even when close is interrupted, so a retry could close a
/// descriptor another thread has just been given. Its errors are ignored;
/// a writer that cares about durability calls fsync before letting go.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());  // safe on self-move: release() runs first
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives the descriptor up without closing it; the caller owns it now.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  /// Closes the descriptor held (if any) and takes `fd` instead.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace trousseau
