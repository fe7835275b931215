// A 256-bit key-encryption key in a local file: the embedded default, and a
// way to run k-of-n policies on one machine with no KMS server.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <mutex>
#include <string>

#include "common/file.hpp"
#include "common/file_watch.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::keyfile {

/// The file holds 32 raw bytes, or their standard base64 on one line. It
/// must be a regular file, not a symlink, owned by this process's user or
/// by root, that neither group nor others can access. It is read once and
/// then watched (common/file_watch.hpp): a write, chmod, removal or
/// replacement is noticed as soon as the watcher thread reads the inotify
/// event, and the file is read and checked again at the next call. No call touches the
/// file system otherwise. Without inotify, or while the file is unusable,
/// every call opens and checks it.
class KeyfileProvider final : public Provider {
 public:
  KeyfileProvider(std::string name, std::string path, asio::any_io_executor executor);

  std::string key_identity() const override;
  bool owns_key_version(std::string_view key_version) const override;

  /// Writes a fresh random key to `path` (mode 0600, parent 0700) unless a
  /// file exists there already.
  static Error create_if_missing(const std::string& path);

 private:
  void wrap_impl(const CallOptions& options, ByteView context, ByteView share,
                 asio::any_completion_handler<WrapSignature> handler) override;
  void unwrap_impl(const CallOptions& options, ByteView context, std::string_view key_version, ByteView wrapped,
                   asio::any_completion_handler<UnwrapSignature> handler) override;
  void probe_impl(const CallOptions& options, asio::any_completion_handler<ProbeSignature> handler) override;

  /// Loads or refreshes the key; on success copies it and its identity out.
  Error current_key(SecretBytes& key, std::string& identity);
  Error reload_locked();

  const std::string path_;
  asio::any_io_executor executor_;
  mutable std::mutex mutex_;
  SecretBytes key_;
  std::string identity_ = "unloaded";
  FileVersion loaded_;
  std::unique_ptr<FileWatch> watch_;  ///< null: inotify unavailable
  std::uint64_t loaded_generation_ = 0;
  bool loaded_ok_ = false;  ///< the last reload succeeded
};

}  // namespace trousseau::providers::keyfile
