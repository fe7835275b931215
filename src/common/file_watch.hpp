// Knowing when a file may have changed without looking at it on every use.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.hpp"

namespace trousseau {

/// Watches one file path through inotify: a change to the file (write,
/// chmod, chown, removal) or a rename or removal of its entry in its
/// directory, or of the directory's entry in the one above (where a
/// Kubernetes Secret volume swaps its `..data` link), bumps generation().
/// Reading generation() is one atomic load: no system call.
///
/// One inotify instance and one thread serve every watch in the process:
/// the thread starts with the first watch and stops with the last, so a
/// watch holds no io_context busy and no per-user inotify instance beyond
/// one is used.
///
/// Spurious bumps are harmless (the owner re-reads); what matters is that
/// no change goes unseen. So the owner reloads this way:
///   1. g = generation();
///   2. rearm();           // before reading: a change from here on bumps g
///   3. read and validate the file, remember g as the version it loaded.
/// The bump happens when the watcher thread reads the event, a moment after
/// the change itself: a call in that moment still sees the old file.
class FileWatch {
 public:
  /// Starts watching; fails when inotify is unavailable (no instance left,
  /// or not Linux). The file itself may be missing: its directory's watch
  /// sees it appear.
  static Result<std::unique_ptr<FileWatch>> start(std::string path);
  ~FileWatch();  ///< stops watching; the last watch stops the thread
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  /// Re-adds the watches on the file and its two directories as the path
  /// resolves now (after a swap it names other inodes). Thread-safe.
  void rearm();

 private:
  friend class FileWatcher;
  explicit FileWatch(std::string path) : path_(std::move(path)) {}
  void bump() { generation_.fetch_add(1, std::memory_order_acq_rel); }

  const std::string path_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace trousseau
