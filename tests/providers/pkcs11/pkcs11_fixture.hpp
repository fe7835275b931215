// A SoftHSM2 token, an io_context running on its own thread, and providers
// built from YAML through the registry, as `serve` builds them.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "envelope/format.hpp"
#include "providers/registry.hpp"
#include "support/softhsm.hpp"

namespace trousseau::providers::pkcs11 {

namespace asio = boost::asio;

class Pkcs11Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_THROW(hsm = &testing::SoftHsm::shared());
    runner = std::thread([this] { io.run(); });
  }

  void TearDown() override {
    guard.reset();
    if (runner.joinable()) runner.join();
  }

  /// Builds provider "hsm" from one `providers:` entry.
  Result<std::unique_ptr<Provider>> make(const std::string& entry) {
    config::Diagnostics diag;
    auto cfg = config::load_string(
        "policy: {threshold: 1, slots: [{providers: [hsm]}]}\nproviders:\n  - " + entry + "\n",
        diag);
    if (!cfg) {
      std::string all;
      for (const std::string& e : diag.errors()) all += e + "\n";
      return Error(Code::invalid_argument, all);
    }
    const config::ProviderConfig& pc = cfg->providers.at(0);
    return Registry::instance().find(pc.type)->create(pc.name, *pc.settings,
                                                      {io.get_executor(), false});
  }

  /// make(), failing the test on an error.
  std::unique_ptr<Provider> make_ok(const std::string& entry) {
    Result<std::unique_ptr<Provider>> p = make(entry);
    if (!p.ok()) {
      ADD_FAILURE() << p.error().message();
      return nullptr;
    }
    return std::move(p.value());
  }

  /// The default entry, key and token by label, with `extra` fields.
  std::string entry(const std::string& extra = "") const {
    return hsm->provider_yaml("hsm", extra);
  }

  /// An entry with only the module and `fields`.
  std::string bare_entry(const std::string& fields) const {
    return "{name: hsm, type: pkcs11, module: " + hsm->module_path() + ", " + fields + "}";
  }

  /// Runs one async operation to completion (the io thread completes it).
  template <typename Op>
  auto run(Op op) {
    return op(asio::use_future).get();
  }

  Bytes context(std::uint8_t x = 1) const { return envelope::share_context(nonce, 2, x); }

  testing::SoftHsm* hsm = nullptr;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  std::thread runner;
  std::array<std::uint8_t, 12> nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
};

}  // namespace trousseau::providers::pkcs11
