// The plugin as operators run it, for the command tests: `trousseau serve`
// in a child process over four key files, 2-of-3 with two redundant key
// files in the third slot.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/serve_process.hpp"

namespace trousseau::cli {

inline constexpr const char* kKeyfilePolicy = R"(
providers:
  - {name: key-a, type: keyfile, path: "{dir}/keys/a.key"}
  - {name: key-b, type: keyfile, path: "{dir}/keys/b.key"}
  - {name: key-c, type: keyfile, path: "{dir}/keys/c.key"}
  - {name: key-d, type: keyfile, path: "{dir}/keys/d.key"}
policy:
  threshold: 2
  slots:
    - providers: [key-a]
    - providers: [key-b]
    - providers: [key-c, key-d]
)";

/// One server for all the tests of a suite; each suite runs in its own
/// process (tests/meson.build), so no two suites share it.
class WithKeyfileServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<testkit::ServeProcess>(kKeyfilePolicy);
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override { ASSERT_TRUE(server_ && server_->started()); }

  static const std::string& socket() { return server_->socket(); }
  static testkit::ServeProcess& server() { return *server_; }

 private:
  static inline std::unique_ptr<testkit::ServeProcess> server_;
};

}  // namespace trousseau::cli
