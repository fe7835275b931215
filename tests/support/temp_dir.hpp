#pragma once

#include <filesystem>
#include <string>

namespace trousseau::testkit {

/// A private directory (mode 0700) removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Writes `content` to `path` with the given mode.
void write_file(const std::string& path, const std::string& content, unsigned mode = 0600);

}  // namespace trousseau::testkit
