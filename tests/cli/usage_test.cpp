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
      {"audit"},
      {"age-recipient"},
      {"age-identity"},
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
      {"audit"},  // --config is required
      {"audit", "-c", "x.yaml", "--output", "xml"},
      {"audit", "-c", "x.yaml", "--page-size", "0"},
      {"audit", "-c", "x.yaml", "--timeout", "soon"},
      {"audit", "-c", "x.yaml", "--all-resources", "--prefix", "/registry/configmaps/"},
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

// One configuration for three control-plane nodes: what would give each
// node a key of its own is named, and what is shared by nature is not.
TEST(CheckConfigCommand, HaWarnsAboutKeysEachNodeWouldHoldAlone) {
  testkit::TempDir dir;
  const std::string path = dir.file("ha.yaml");
  testkit::write_file(path, "providers:\n"
                            "  - {name: made, type: keyfile, path: " + dir.file("a.key") + "}\n"
                            "  - {name: copied, type: keyfile, path: " + dir.file("b.key") +
                                ", create_if_missing: false}\n"
                            "  - {name: hsm, type: pkcs11, module: /usr/lib/softhsm/libsofthsm2.so,"
                            " token_label: t, pin_env: PIN, key_label: k}\n"
                            "  - {name: net, type: pkcs11, module: /opt/nethsm/libnethsm.so,"
                            " token_label: t, pin_env: PIN, key_label: k}\n"
                            "policy: {threshold: 2, slots: [{providers: [made]}, "
                            "{providers: [copied]}, {providers: [hsm]}, {providers: [net]}]}\n");
  auto plain = run_trousseau({"check-config", path});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("warning"), std::string::npos) << plain.out;

  auto ha = run_trousseau({"check-config", "--ha", path});
  EXPECT_EQ(ha.exit_code, 0) << ha.err;
  EXPECT_NE(ha.out.find("warning: providers[0] (made): create_if_missing is on"), std::string::npos)
      << ha.out;
  EXPECT_EQ(ha.out.find("providers[1]"), std::string::npos) << ha.out;
  EXPECT_NE(ha.out.find("warning: providers[2] (hsm): module /usr/lib/softhsm/libsofthsm2.so is "
                        "SoftHSM2"),
            std::string::npos)
      << ha.out;
  EXPECT_EQ(ha.out.find("providers[3]"), std::string::npos) << ha.out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.key"))) << "check-config touches no key";

  testkit::write_file(path, "providers: [{name: a, type: keyfile, path: " + dir.file("a.key") +
                                ", create_if_missing: false}]\n"
                                "policy: {threshold: 1, slots: [{providers: [a]}]}\n");
  auto clean = run_trousseau({"check-config", "--ha", path});
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_NE(clean.out.find("every key can be shared by the nodes as configured"), std::string::npos)
      << clean.out;
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
