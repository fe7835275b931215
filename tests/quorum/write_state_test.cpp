#include "quorum/write_state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

namespace trousseau::quorum {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(WriteState, RoundTripsThroughTheFile) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  WriteState s;
  s.missing = {"aws", "hsm"};
  ASSERT_TRUE(save_write_state(path, s).ok());
  auto loaded = load_write_state(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_TRUE(loaded->degraded());
  EXPECT_EQ(loaded->missing, (std::set<std::string>{"aws", "hsm"}));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(read(path), "{\"version\":2,\"missing\":[\"aws\",\"hsm\"]}\n");
}

TEST(WriteState, AMissingFileIsAFreshState) {
  testkit::TempDir dir;
  auto loaded = load_write_state(dir.file("absent.json"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->degraded());
}

// Files written before key_id stopped counting generations: the generation
// is dropped (it was per node), the names kept only while degraded.
TEST(WriteState, ReadsTheEarlierFormatWithoutItsGeneration) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  write(path, R"({"generation":1754550000,"degraded":true,"missing":["aws"]})");
  auto degraded = load_write_state(path);
  ASSERT_TRUE(degraded.ok()) << degraded.error().message();
  EXPECT_EQ(degraded->missing, std::set<std::string>{"aws"});
  write(path, R"({"generation":3,"degraded":false,"missing":["aws"]})");
  auto healed = load_write_state(path);
  ASSERT_TRUE(healed.ok()) << healed.error().message();
  EXPECT_FALSE(healed->degraded());
  write(path, R"({"generation":0})");
  ASSERT_TRUE(load_write_state(path).ok());
}

TEST(WriteState, CorruptOrPartlyWrittenFilesAreErrorsNotDefaults) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  for (const std::string text :
       {"not json", R"({"version":2,"missing":["a")", "[]", R"({"generation": -1})",
        R"({"degraded": true})", "", R"({"version":3,"missing":[]})",
        R"({"version":2})", R"({"version":2,"missing":"aws"})", R"({"version":2,"missing":[1]})",
        R"({"version":2,"missing":[""]})", R"({"generation":1,"degraded":"yes"})"}) {
    write(path, text);
    auto loaded = load_write_state(path);
    EXPECT_FALSE(loaded.ok()) << "accepted: " << text;
  }
}

TEST(WriteState, TheTempFileIsNeverFollowedThroughALink) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  const std::string victim = dir.file("victim");
  write(victim, "precious\n");
  ASSERT_EQ(::symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  WriteState s;
  s.missing = {"a"};
  ASSERT_TRUE(save_write_state(path, s).ok());
  EXPECT_EQ(read(victim), "precious\n");
  EXPECT_EQ(load_write_state(path)->missing, std::set<std::string>{"a"});
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path + ".tmp")));
}

TEST(WriteState, ATempFileLeftByACrashDoesNotBlockSaving) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  write(path + ".tmp", "{\"version\": 2");
  WriteState s;
  s.missing = {"b"};
  ASSERT_TRUE(save_write_state(path, s).ok());
  EXPECT_EQ(load_write_state(path)->missing, std::set<std::string>{"b"});
}

}  // namespace
}  // namespace trousseau::quorum
