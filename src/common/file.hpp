// Reading files that hold secrets: key files, PINs, credentials, tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/secret.hpp"

namespace trousseau {

/// What a secret file must be. The defaults suit a file we expect the
/// operator to have made private (a key, a PIN). Relax them only for files
/// another system writes loosely on purpose: a Kubernetes projected token
/// is 0644 behind a symlink.
struct SecretFileRules {
  std::string_view what = "file";    ///< names it in messages: "key file", "PIN file"
  std::size_t max_size = 64 * 1024;  ///< a larger file is refused unread
  bool follow_symlinks = false;      ///< false: a symlink as the last component is refused
  bool private_mode = true;          ///< refuse any permission bit for group or others
  bool owner_check = true;           ///< the owner must be this process's euid, or root
};

/// A file's identity and content version, told apart without reading it:
/// rewriting the file changes its mtime, replacing it (a rename, a
/// Kubernetes Secret update) its inode.
struct FileVersion {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::int64_t size = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;

  bool operator==(const FileVersion&) const = default;
};

/// A secret file opened and checked, not read yet. The checks and the read
/// are on the same open file, so swapping the path in between changes
/// nothing.
class SecretFile {
 public:
  const FileVersion& version() const { return version_; }

  /// The whole content, read straight into locked memory (no copy is left
  /// on the heap). Reads from the start each time. A file that grew past
  /// the size limit since it was opened is refused.
  Result<SecretBytes> read() const;

 private:
  friend Result<SecretFile> open_secret_file(const std::string& path, const SecretFileRules& rules);
  SecretFile(UniqueFd fd, FileVersion version, std::string name, std::size_t max_size)
      : fd_(std::move(fd)), version_(version), name_(std::move(name)), max_size_(max_size) {}

  UniqueFd fd_;
  FileVersion version_;
  std::string name_;  ///< "<what> <path>", for messages
  std::size_t max_size_;
};

/// Opens `path` and checks it, in this order:
///  1. It is opened without blocking (a FIFO put in its place cannot hang
///     us) and, unless rules.follow_symlinks, refused if it is a symlink
///     (Code::failed_precondition): someone could re-point it.
///  2. It is a regular file (not a directory, FIFO or device).
///  3. If rules.owner_check: it belongs to this process's effective user or
///     to root, not to another user who could rewrite it.
///  4. If rules.private_mode: no permission bit for group or others.
///  5. It is at most rules.max_size bytes.
/// A broken rule is Code::failed_precondition; a file that cannot be opened
/// (missing, unreadable) is Code::unavailable. Messages name the file as
/// "<what> <path>" and the rule, never the content.
Result<SecretFile> open_secret_file(const std::string& path, const SecretFileRules& rules);

/// open_secret_file() and read() in one.
Result<SecretBytes> read_secret_file(const std::string& path, const SecretFileRules& rules);

}  // namespace trousseau
