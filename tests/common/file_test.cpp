// The checks every secret file goes through, played from the attacker's
// side: a link to re-point, a loose mode, a file someone else owns, a FIFO
// to hang the reader, a file to exhaust locked memory, a swap after the check.
#include "common/file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "support/temp_dir.hpp"

namespace trousseau {
namespace {

using testkit::TempDir;
using testkit::write_file;

constexpr SecretFileRules kPrivate{.what = "key file", .max_size = 64};
constexpr SecretFileRules kShared{.what = "token file",
                                  .max_size = 64,
                                  .follow_symlinks = true,
                                  .private_mode = false,
                                  .owner_check = false};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void append(const std::string& path, const std::string& more) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << more;
}

class SecretFileTest : public ::testing::Test {
 protected:
  /// Expects `path` refused under `rules` for breaking `rule`.
  void expect_refused(const std::string& path, const SecretFileRules& rules,
                      const std::string& rule) {
    Result<SecretBytes> r = read_secret_file(path, rules);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().code(), Code::failed_precondition) << r.error().message();
    EXPECT_TRUE(contains(r.error().message(), std::string(rules.what) + " " + path + " " + rule))
        << r.error().message();
  }

  TempDir dir;
  const std::string path = dir.file("secret");
};

TEST_F(SecretFileTest, ReadsAPrivateFileWhole) {
  write_file(path, "s3cret\n", 0600);
  Result<SecretBytes> r = read_secret_file(path, kPrivate);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->equals(as_bytes("s3cret\n")));

  write_file(path, "read-only", 0400);
  r = read_secret_file(path, kPrivate);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->equals(as_bytes("read-only")));
}

TEST_F(SecretFileTest, ReadsAnEmptyFileAsEmpty) {
  write_file(path, "", 0600);
  Result<SecretBytes> r = read_secret_file(path, kPrivate);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->empty());
}

TEST_F(SecretFileTest, MissingFileIsUnavailableAndNamed) {
  Result<SecretBytes> r = read_secret_file(dir.file("absent"), kPrivate);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::unavailable);
  EXPECT_TRUE(contains(r.error().message(), "key file " + dir.file("absent") + ": "))
      << r.error().message();
}

TEST_F(SecretFileTest, SymlinkToASecretFileIsRefused) {
  write_file(path, "s3cret", 0600);
  const std::string link = dir.file("link");
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  expect_refused(link, kPrivate, "is a symbolic link");
}

TEST_F(SecretFileTest, SymlinkIsFollowedWhenTheRulesAllowIt) {
  // A Kubernetes projected token: 0644, behind a symlink.
  write_file(path, "header.payload.sig", 0644);
  const std::string link = dir.file("token");
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  Result<SecretBytes> r = read_secret_file(link, kShared);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->equals(as_bytes("header.payload.sig")));
}

TEST_F(SecretFileTest, FileGroupOrOthersCanAccessIsRefused) {
  for (unsigned mode : {0640u, 0620u, 0610u, 0604u, 0602u, 0601u, 0644u}) {
    SCOPED_TRACE(mode);
    write_file(path, "s3cret", mode);
    expect_refused(path, kPrivate, "is accessible by group or others; chmod 600 it");
  }
}

TEST_F(SecretFileTest, LooseModeIsAcceptedWhenTheRulesAllowIt) {
  write_file(path, "s3cret", 0644);
  Result<SecretBytes> r = read_secret_file(path, kShared);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->equals(as_bytes("s3cret")));
}

TEST_F(SecretFileTest, FifoIsRefusedWithoutBlocking) {
  // No writer ever opens it: a blocking open or read would hang here.
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  expect_refused(path, kPrivate, "is not a regular file");
  expect_refused(path, kShared, "is not a regular file");
}

TEST_F(SecretFileTest, DirectoryIsRefused) {
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  expect_refused(path, kPrivate, "is not a regular file");
}

TEST_F(SecretFileTest, FileOwnedByAnotherUserIsRefused) {
  // scripts/test runs as root (it installs packages), as CI does; a file
  // can only be given away by root, so anything else is a failure here.
  ASSERT_EQ(::geteuid(), 0u) << "run the tests as root: only root can give a file away";
  write_file(path, "s3cret", 0600);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  // Someone else could rewrite it, mode 0600 or not.
  expect_refused(path, kPrivate, "is owned by uid 65534");
  EXPECT_TRUE(read_secret_file(path, kShared).ok());

  ASSERT_EQ(::chown(path.c_str(), 0, 0), 0);
  EXPECT_TRUE(read_secret_file(path, kPrivate).ok()) << "root may own it";
}

TEST_F(SecretFileTest, OversizedFileIsRefusedAndItsContentNeverShown) {
  write_file(path, std::string(64, 'k'), 0600);
  EXPECT_TRUE(read_secret_file(path, kPrivate).ok()) << "exactly the limit is fine";
  write_file(path, std::string(65, 'k'), 0600);
  expect_refused(path, kPrivate, "is larger than 64 bytes");
  EXPECT_FALSE(contains(read_secret_file(path, kPrivate).error().message(), "kkkk"));
}

TEST_F(SecretFileTest, FileThatGrowsAfterTheCheckIsReadWholeUpToTheLimit) {
  write_file(path, "a", 0600);
  Result<SecretFile> file = open_secret_file(path, kPrivate);
  ASSERT_TRUE(file.ok()) << file.error().message();
  append(path, std::string(49, 'b'));
  Result<SecretBytes> r = file->read();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->equals(as_bytes("a" + std::string(49, 'b'))));

  append(path, std::string(15, 'c'));  // 65 bytes now
  r = file->read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::failed_precondition);
  EXPECT_TRUE(contains(r.error().message(), "is larger than 64 bytes")) << r.error().message();
}

TEST_F(SecretFileTest, ReadsTheFileThatWasCheckedEvenIfThePathIsSwapped) {
  write_file(path, "checked", 0600);
  Result<SecretFile> file = open_secret_file(path, kPrivate);
  ASSERT_TRUE(file.ok()) << file.error().message();
  const std::string planted = dir.file("planted");
  write_file(planted, "planted", 0644);
  ASSERT_EQ(std::rename(planted.c_str(), path.c_str()), 0);
  Result<SecretBytes> r = file->read();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->equals(as_bytes("checked")));
}

TEST_F(SecretFileTest, VersionTellsAReplacedOrRewrittenFileApart) {
  write_file(path, "one", 0600);
  Result<SecretFile> first = open_secret_file(path, kPrivate);
  Result<SecretFile> again = open_secret_file(path, kPrivate);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(first->version(), again->version());

  const std::string next = dir.file("next");
  write_file(next, "two", 0600);
  ASSERT_EQ(std::rename(next.c_str(), path.c_str()), 0);
  Result<SecretFile> replaced = open_secret_file(path, kPrivate);
  ASSERT_TRUE(replaced.ok());
  EXPECT_NE(replaced->version(), first->version()) << "a new inode";

  append(path, "more");
  Result<SecretFile> rewritten = open_secret_file(path, kPrivate);
  ASSERT_TRUE(rewritten.ok());
  EXPECT_NE(rewritten->version(), replaced->version()) << "a new size";
}

}  // namespace
}  // namespace trousseau
