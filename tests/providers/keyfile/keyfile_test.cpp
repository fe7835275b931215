#include "support/call_options.hpp"
#include "providers/keyfile/keyfile_provider.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <thread>

#include "envelope/format.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::providers::keyfile {
namespace {

namespace asio = boost::asio;
using testkit::TempDir;

class KeyfileTest : public ::testing::Test {
 protected:
  /// Runs one async operation to completion on the test's io_context.
  template <typename Op>
  auto run(Op op) {
    auto fut = op(asio::use_future);
    io.restart();
    io.run();
    return fut.get();
  }

  Error probe(KeyfileProvider& p) {
    return run([&](auto t) { return p.async_probe(::trousseau::testkit::within(), t); });
  }
  asio::io_context io;
  TempDir dir;
  Bytes context = to_bytes("ctx");
};

TEST_F(KeyfileTest, CreatesAPrivateKeyFileOnce) {
  const std::string path = dir.file("keys/a.key");
  ASSERT_TRUE(KeyfileProvider::create_if_missing(path).ok());
  struct ::stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  KeyfileProvider p("a", path, io.get_executor());
  const std::string id = p.key_identity();
  EXPECT_EQ(id.rfind("sha256:", 0), 0u);
  ASSERT_TRUE(KeyfileProvider::create_if_missing(path).ok());  // keeps the existing key
  KeyfileProvider again("a", path, io.get_executor());
  EXPECT_EQ(again.key_identity(), id);
}

TEST_F(KeyfileTest, WrapUnwrapRoundTrip) {
  const std::string path = dir.file("k");
  ASSERT_TRUE(KeyfileProvider::create_if_missing(path).ok());
  KeyfileProvider p("a", path, io.get_executor());
  SecretBytes share = SecretBytes::random(32);
  // Lambdas name the bindings they use ([&, &w = w]): clang 14 cannot
  // capture a structured binding implicitly.
  auto [err, wrapped] = run([&](auto t) { return p.async_wrap(::trousseau::testkit::within(), context, share.view(), t); });
  ASSERT_TRUE(err.ok()) << err.message();
  EXPECT_EQ(wrapped.key_version, p.key_identity());
  auto [err2, back] = run([&, &wrapped = wrapped](auto t) {
    return p.async_unwrap(::trousseau::testkit::within(), context, wrapped.key_version, wrapped.wrapped, t);
  });
  ASSERT_TRUE(err2.ok()) << err2.message();
  EXPECT_TRUE(back.equals(share.view()));
}

TEST_F(KeyfileTest, WrongContextOrTamperedShareFailsIntegrity) {
  const std::string path = dir.file("k");
  ASSERT_TRUE(KeyfileProvider::create_if_missing(path).ok());
  KeyfileProvider p("a", path, io.get_executor());
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = run([&](auto t) { return p.async_wrap(::trousseau::testkit::within(), context, share.view(), t); });
  ASSERT_TRUE(err.ok());
  auto [e1, s1] = run([&, &w = w](auto t) {
    return p.async_unwrap(::trousseau::testkit::within(), to_bytes("other"), w.key_version, w.wrapped, t);
  });
  EXPECT_EQ(e1.code(), Code::integrity);
  Bytes bad = w.wrapped;
  bad.back() ^= 1;
  auto [e2, s2] = run([&, &w = w](auto t) { return p.async_unwrap(::trousseau::testkit::within(), context, w.key_version, bad, t); });
  EXPECT_EQ(e2.code(), Code::integrity);
}

TEST_F(KeyfileTest, RefusesAFileOthersCanRead) {
  const std::string path = dir.file("k");
  testkit::write_file(path, std::string(32, 'k'), 0644);
  KeyfileProvider p("a", path, io.get_executor());
  Error err = run([&](auto t) { return p.async_probe(::trousseau::testkit::within(), t); });
  EXPECT_EQ(err.code(), Code::failed_precondition);
  EXPECT_NE(err.message().find("chmod 600"), std::string::npos);
}

TEST_F(KeyfileTest, AcceptsRawAndBase64KeysAndRejectsOtherSizes) {
  testkit::write_file(dir.file("raw"), std::string(32, 'k'));
  testkit::write_file(dir.file("b64"), base64_encode(to_bytes(std::string(32, 'k'))) + "\n");
  testkit::write_file(dir.file("short"), std::string(16, 'k'));
  KeyfileProvider raw("raw", dir.file("raw"), io.get_executor());
  KeyfileProvider b64("b64", dir.file("b64"), io.get_executor());
  KeyfileProvider bad("short", dir.file("short"), io.get_executor());
  EXPECT_EQ(raw.key_identity(), b64.key_identity());
  Error err = run([&](auto t) { return bad.async_probe(::trousseau::testkit::within(), t); });
  EXPECT_EQ(err.code(), Code::failed_precondition);
}

TEST_F(KeyfileTest, RemovedFileMakesItUnavailableOnceTheWatchSeesIt) {
  const std::string path = dir.file("k");
  ASSERT_TRUE(KeyfileProvider::create_if_missing(path).ok());
  KeyfileProvider p("a", path, io.get_executor());
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = run([&](auto t) { return p.async_wrap(::trousseau::testkit::within(), context, share.view(), t); });
  ASSERT_TRUE(err.ok());
  std::filesystem::remove(path);
  Error e2;
  ASSERT_TRUE(testkit::wait_until([&, &w = w] {
    e2 = std::get<0>(run([&](auto t) {
      return p.async_unwrap(::trousseau::testkit::within(), context, w.key_version, w.wrapped, t);
    }));
    return !e2.ok();
  }));
  EXPECT_EQ(e2.code(), Code::unavailable);
  EXPECT_NE(e2.message().find(path), std::string::npos);
}

TEST_F(KeyfileTest, AFileRenamedOverTheKeyIsReadAgain) {
  const std::string path = dir.file("k");
  testkit::write_file(path, std::string(32, 'a'));
  KeyfileProvider p("a", path, io.get_executor());
  const std::string before = p.key_identity();
  testkit::write_file(dir.file("k.new"), std::string(32, 'b'));
  std::filesystem::rename(dir.file("k.new"), path);
  ASSERT_TRUE(testkit::wait_until([&] { return probe(p).ok() && p.key_identity() != before; }));
}

TEST_F(KeyfileTest, AKubernetesSecretUpdateThroughItsDataLinkIsReadAgain) {
  // The kubelet's atomic writer: files live in a timestamped directory,
  // `..data` points at it, and an update swaps `..data` by rename.
  std::filesystem::create_directories(dir.file("vol/..2026_1"));
  std::filesystem::create_directories(dir.file("vol/..2026_2"));
  testkit::write_file(dir.file("vol/..2026_1/a.key"), std::string(32, 'a'));
  testkit::write_file(dir.file("vol/..2026_2/a.key"), std::string(32, 'b'));
  std::filesystem::create_directory_symlink("..2026_1", dir.file("vol/..data"));
  KeyfileProvider p("a", dir.file("vol/..data/a.key"), io.get_executor());
  ASSERT_TRUE(probe(p).ok());
  const std::string before = p.key_identity();
  std::filesystem::create_directory_symlink("..2026_2", dir.file("vol/..data_tmp"));
  std::filesystem::rename(dir.file("vol/..data_tmp"), dir.file("vol/..data"));
  ASSERT_TRUE(testkit::wait_until([&] { return probe(p).ok() && p.key_identity() != before; }));
  // And the watch follows the new directory: the next update is seen too.
  const std::string second = p.key_identity();
  testkit::write_file(dir.file("vol/..2026_2/a.key.tmp"), std::string(32, 'c'));
  std::filesystem::rename(dir.file("vol/..2026_2/a.key.tmp"), dir.file("vol/..2026_2/a.key"));
  ASSERT_TRUE(testkit::wait_until([&] { return probe(p).ok() && p.key_identity() != second; }));
}

TEST_F(KeyfileTest, ALoosenedModeIsRefusedOnceTheWatchSeesIt) {
  const std::string path = dir.file("k");
  ASSERT_TRUE(KeyfileProvider::create_if_missing(path).ok());
  KeyfileProvider p("a", path, io.get_executor());
  ASSERT_TRUE(probe(p).ok());
  std::filesystem::permissions(path, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  Error err;
  ASSERT_TRUE(testkit::wait_until([&] { return !(err = probe(p)).ok(); }));
  EXPECT_EQ(err.code(), Code::failed_precondition);
}

TEST_F(KeyfileTest, AKeyFileThatAppearsLaterIsUsed) {
  const std::string path = dir.file("later.key");
  KeyfileProvider p("a", path, io.get_executor());
  EXPECT_EQ(probe(p).code(), Code::unavailable);
  testkit::write_file(path, std::string(32, 'k'));
  ASSERT_TRUE(testkit::wait_until([&] { return probe(p).ok(); }));
  EXPECT_EQ(p.key_identity().rfind("sha256:", 0), 0u);
}

TEST_F(KeyfileTest, IdentityIsADigestNotTheKey) {
  const std::string key(32, 'k');
  testkit::write_file(dir.file("k"), key);
  KeyfileProvider p("a", dir.file("k"), io.get_executor());
  const std::string id = p.key_identity();
  EXPECT_EQ(id.find(hex_encode(to_bytes(key))), std::string::npos);
  EXPECT_EQ(id.find(base64_encode(to_bytes(key))), std::string::npos);
  EXPECT_EQ(id.size(), 7u + 32u);
}

}  // namespace
}  // namespace trousseau::providers::keyfile
