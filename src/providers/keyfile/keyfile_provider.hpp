// A 256-bit key-encryption key in a local file: the embedded default, and a
// way to run k-of-n policies on one machine with no KMS server.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <mutex>
#include <string>

#include "common/file.hpp"
#include "providers/provider.hpp"

namespace trousseau::providers::keyfile {

/// The file holds 32 raw bytes, or their standard base64 on one line. It
/// must be a regular file, not a symlink, owned by this process's user or
/// by root, that neither group nor others can access. It is re-read when it
/// changes and checked on every call, so a removed or replaced file is
/// noticed at once.
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

  const std::string path_;
  asio::any_io_executor executor_;
  mutable std::mutex mutex_;
  SecretBytes key_;
  std::string identity_ = "unloaded";
  FileVersion loaded_;
};

}  // namespace trousseau::providers::keyfile
