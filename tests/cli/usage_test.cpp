// The command line itself: --help everywhere, and the exit code scheme of
// docs/cli.md (0 success, 1 the operation failed, 2 usage or configuration).
#include <gtest/gtest.h>

#include <filesystem>

#include "support/command.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::cli {
namespace {

using testkit::run_trousseau;

TEST(Usage, EveryCommandHasHelpThatEndsInZero) {
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"serve"},
      {"check-config"},
      {"encrypt"},
      {"decrypt"},
      {"status"},
      {"inspect"},
      {"version"},
  };
  for (std::vector<std::string> args : commands) {
    const std::string name = args.empty() ? "trousseau" : args[0];
    args.push_back("--help");
    auto run = run_trousseau(args);
    EXPECT_EQ(run.exit_code, 0) << name << ": " << run.err;
    EXPECT_NE(run.out.find("Usage:"), std::string::npos) << name << ": " << run.out;
    if (name != "version") {
      EXPECT_NE(run.out.find("Exit codes"), std::string::npos) << name;
    }
  }
}

TEST(Usage, EveryParseErrorEndsInTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"encrypt", "--bogus"},
      {"encrypt", "--api", "v3"},
      {"encrypt", "--timeout", "soon"},
      {"encrypt", "--timeout", "0s"},
      {"encrypt", "--json", "--base64"},
      {"decrypt", "--json", "--base64"},
      {"inspect", "--format", "xml"},
      {"inspect", "a", "b"},
      {"status", "--metrics", "ftp://127.0.0.1"},
      {"check-config"},
      {"serve"},
  };
  for (const auto& args : bad) {
    std::string line;
    for (const std::string& a : args) line += a + " ";
    auto run = run_trousseau(args, "input");
    EXPECT_EQ(run.exit_code, 2) << line << ": " << run.err;
    EXPECT_FALSE(run.err.empty()) << line;
  }
}

TEST(Usage, VersionPrintsTheVersion) {
  auto run = run_trousseau({"version"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "trousseau " TROUSSEAU_VERSION "\n");
}

TEST(CheckConfigCommand, AValidFileEndsInZero) {
  testkit::TempDir dir;
  const std::string path = dir.file("ok.yaml");
  testkit::write_file(path, "providers: [{name: a, type: keyfile, path: " + dir.file("a.key") +
                                "}]\npolicy: {threshold: 1, slots: [{providers: [a]}]}\n");
  auto run = run_trousseau({"check-config", path});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find(": ok (1 providers, 1-of-1"), std::string::npos) << run.out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.key"))) << "check-config touches no key";
}

TEST(CheckConfigCommand, EveryProblemIsPrintedAndTheCodeIsTwoAsForServe) {
  testkit::TempDir dir;
  const std::string path = dir.file("bad.yaml");
  testkit::write_file(path,
                      "policy: {threshold: 2, slots: [{providers: [a]}]}\n"
                      "providers: [{name: a, type: keyfile}, {name: b, type: nosuch}]\n");
  auto check = run_trousseau({"check-config", path});
  EXPECT_EQ(check.exit_code, 2);
  EXPECT_NE(check.err.find("providers[0].path: is required"), std::string::npos) << check.err;
  EXPECT_NE(check.err.find("providers[1].type: unknown provider type 'nosuch'"), std::string::npos)
      << check.err;
  EXPECT_NE(check.err.find("policy.threshold"), std::string::npos) << check.err;
  auto serve = run_trousseau({"serve", "--config", path});
  EXPECT_EQ(serve.exit_code, 2) << serve.err;
}

TEST(CheckConfigCommand, AMissingFileIsAConfigurationError) {
  auto run = run_trousseau({"check-config", "/nonexistent/trousseau.yaml"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("cannot read /nonexistent/trousseau.yaml"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace trousseau::cli
