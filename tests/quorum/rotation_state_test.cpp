#include "quorum/rotation_state.hpp"

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

TEST(RotationState, RoundTripsThroughTheFile) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  RotationState s;
  s.generation = 7;
  s.degraded = true;
  s.missing = {"aws", "hsm"};
  ASSERT_TRUE(save_rotation_state(path, s).ok());
  auto loaded = load_rotation_state(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(loaded->generation, 7u);
  EXPECT_TRUE(loaded->degraded);
  EXPECT_EQ(loaded->missing, (std::set<std::string>{"aws", "hsm"}));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(RotationState, AMissingFileIsAFreshState) {
  testkit::TempDir dir;
  auto loaded = load_rotation_state(dir.file("absent.json"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->generation, 0u);
  EXPECT_FALSE(loaded->degraded);
}

TEST(RotationState, CorruptOrPartlyWrittenFilesAreErrorsNotDefaults) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  for (const std::string text : {"not json", R"({"generation": 3, "degr)", "[]",
                                  R"({"generation": -1})", R"({"degraded": true})", ""}) {
    write(path, text);
    auto loaded = load_rotation_state(path);
    EXPECT_FALSE(loaded.ok()) << "accepted: " << text;
  }
}

TEST(RotationState, TheTempFileIsNeverFollowedThroughALink) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  const std::string victim = dir.file("victim");
  write(victim, "precious\n");
  ASSERT_EQ(::symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  RotationState s;
  s.generation = 1;
  ASSERT_TRUE(save_rotation_state(path, s).ok());
  EXPECT_EQ(read(victim), "precious\n");
  EXPECT_EQ(load_rotation_state(path)->generation, 1u);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path + ".tmp")));
}

TEST(RotationState, ATempFileLeftByACrashDoesNotBlockSaving) {
  testkit::TempDir dir;
  const std::string path = dir.file("state.json");
  write(path + ".tmp", "{\"generation\": 99");
  RotationState s;
  s.generation = 2;
  ASSERT_TRUE(save_rotation_state(path, s).ok());
  EXPECT_EQ(load_rotation_state(path)->generation, 2u);
}

}  // namespace
}  // namespace trousseau::quorum
