// The bench provider types are not shipped: the `trousseau` binary (whose
// path meson passes in TROUSSEAU_BIN) refuses a configuration that uses
// them, while the same configuration is valid where they are linked in, as
// in this test and trousseau-bench-server.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config.hpp"
#include "support/temp_dir.hpp"

namespace trousseau {
namespace {

const char* kBenchConfig = R"(socket: /tmp/not-shipped/kms.sock
state_dir: /tmp/not-shipped/state
providers:
  - name: kms-a
    type: injected
    delay: {distribution: constant, value: 2ms}
  - name: kms-b
    type: sequential
    members:
      - {name: old-a, delay: {distribution: lognormal, median: 10ms, p99: 40ms}}
policy:
  threshold: 1
  slots:
    - providers: [kms-a]
    - providers: [kms-b]
)";

struct Outcome {
  int status;
  std::string output;
};

Outcome check_config(const std::string& bin, const std::string& path) {
  const std::string cmd = bin + " check-config " + path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

TEST(NotShipped, TheTrousseauBinaryRefusesTheBenchProviderTypes) {
  const char* bin = std::getenv("TROUSSEAU_BIN");
  ASSERT_NE(bin, nullptr) << "TROUSSEAU_BIN must point at the trousseau binary";
  testkit::TempDir dir;
  const std::string path = dir.file("bench.yaml");
  testkit::write_file(path, kBenchConfig);
  const Outcome run = check_config(bin, path);
  EXPECT_NE(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("providers[0].type: unknown provider type 'injected'"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("providers[1].type: unknown provider type 'sequential'"),
            std::string::npos)
      << run.output;
}

TEST(NotShipped, TheSameConfigurationIsValidWhereTheBenchTypesAreLinked) {
  testkit::TempDir dir;
  const std::string path = dir.file("bench.yaml");
  testkit::write_file(path, kBenchConfig);
  config::Diagnostics diag;
  auto cfg = config::load_file(path, diag);
  ASSERT_TRUE(cfg.has_value()) << (diag.errors().empty() ? "" : diag.errors()[0]);
  EXPECT_TRUE(diag.ok());
  ASSERT_EQ(cfg->providers.size(), 2u);
  EXPECT_EQ(cfg->providers[0].type, "injected");
  EXPECT_EQ(cfg->providers[1].type, "sequential");
}

}  // namespace
}  // namespace trousseau
