#include "common/file_watch.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau {
namespace {

namespace fs = std::filesystem;
using testkit::TempDir;
using testkit::wait_until;

class FileWatchTest : public ::testing::Test {
 protected:
  /// Starts watching `path`; the watch is armed when this returns.
  void watch_path(const std::string& path) {
    auto started = FileWatch::start(path);
    ASSERT_TRUE(started.ok()) << started.error().message();
    watch = std::move(started.value());
  }

  /// Waits until the watch reports a change after `before`.
  bool changed_since(std::uint64_t before) {
    return wait_until([&] { return watch->generation() != before; });
  }

  TempDir dir;
  std::unique_ptr<FileWatch> watch;
};

TEST_F(FileWatchTest, SeesAWriteToTheFile) {
  testkit::write_file(dir.file("k"), "one");
  watch_path(dir.file("k"));
  const auto g = watch->generation();
  testkit::write_file(dir.file("k"), "two");
  EXPECT_TRUE(changed_since(g));
}

TEST_F(FileWatchTest, SeesAChangeOfMode) {
  testkit::write_file(dir.file("k"), "key");
  watch_path(dir.file("k"));
  const auto g = watch->generation();
  ASSERT_EQ(::chmod(dir.file("k").c_str(), 0644), 0);
  EXPECT_TRUE(changed_since(g));
}

TEST_F(FileWatchTest, SeesTheFileRemoved) {
  testkit::write_file(dir.file("k"), "key");
  watch_path(dir.file("k"));
  const auto g = watch->generation();
  fs::remove(dir.file("k"));
  EXPECT_TRUE(changed_since(g));
}

TEST_F(FileWatchTest, SeesAnotherFileRenamedOverIt) {
  testkit::write_file(dir.file("k"), "old");
  watch_path(dir.file("k"));
  const auto g = watch->generation();
  testkit::write_file(dir.file("k.tmp"), "new");
  fs::rename(dir.file("k.tmp"), dir.file("k"));
  EXPECT_TRUE(changed_since(g));
}

TEST_F(FileWatchTest, SeesAFileThatWasMissingAppear) {
  watch_path(dir.file("later"));
  const auto g = watch->generation();
  testkit::write_file(dir.file("later"), "key");
  EXPECT_TRUE(changed_since(g));
}

TEST_F(FileWatchTest, SeesADataLinkSwappedInTheDirectoryAbove) {
  fs::create_directories(dir.file("vol/..v1"));
  fs::create_directories(dir.file("vol/..v2"));
  testkit::write_file(dir.file("vol/..v1/k"), "one");
  testkit::write_file(dir.file("vol/..v2/k"), "two");
  fs::create_directory_symlink("..v1", dir.file("vol/..data"));
  watch_path(dir.file("vol/..data/k"));
  const auto g = watch->generation();
  fs::create_directory_symlink("..v2", dir.file("vol/..data_tmp"));
  fs::rename(dir.file("vol/..data_tmp"), dir.file("vol/..data"));
  EXPECT_TRUE(changed_since(g));
}

TEST_F(FileWatchTest, TwoWatchesInOneDirectoryEachSeeTheirOwnFile) {
  testkit::write_file(dir.file("a"), "a");
  testkit::write_file(dir.file("b"), "b");
  watch_path(dir.file("a"));
  auto other = FileWatch::start(dir.file("b"));
  ASSERT_TRUE(other.ok());
  const auto ga = watch->generation();
  const auto gb = other.value()->generation();
  testkit::write_file(dir.file("b"), "b2");
  EXPECT_TRUE(wait_until([&] { return other.value()->generation() != gb; }));
  testkit::write_file(dir.file("a"), "a2");
  EXPECT_TRUE(changed_since(ga));
  other.value().reset();  // the first keeps working without the second
  const auto again = watch->generation();
  fs::remove(dir.file("a"));
  EXPECT_TRUE(changed_since(again));
}

TEST_F(FileWatchTest, AfterRearmItWatchesWhatThePathNamesNow) {
  fs::create_directories(dir.file("vol/..v1"));
  fs::create_directories(dir.file("vol/..v2"));
  testkit::write_file(dir.file("vol/..v1/k"), "one");
  testkit::write_file(dir.file("vol/..v2/k"), "two");
  fs::create_directory_symlink("..v1", dir.file("vol/..data"));
  watch_path(dir.file("vol/..data/k"));
  auto g = watch->generation();
  fs::create_directory_symlink("..v2", dir.file("vol/..data_tmp"));
  fs::rename(dir.file("vol/..data_tmp"), dir.file("vol/..data"));
  ASSERT_TRUE(changed_since(g));
  g = watch->generation();
  watch->rearm();
  testkit::write_file(dir.file("vol/..v2/k"), "three");  // a file the first arming never saw
  EXPECT_TRUE(changed_since(g));
}

}  // namespace
}  // namespace trousseau
