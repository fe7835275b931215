// A SoftHSM2 token, an io_context running on its own thread, and providers
// built from YAML through the registry, as `serve` builds them.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <future>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "counting_module.hpp"
#include "envelope/format.hpp"
#include "providers/pkcs11/module.hpp"
#include "providers/registry.hpp"
#include "softhsm.hpp"
#include "support/call_options.hpp"

namespace trousseau::providers::pkcs11 {

namespace asio = boost::asio;

class Pkcs11Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_THROW(hsm = &testkit::SoftHsm::shared());
    runner = std::thread([this] { io.run(); });
  }

  void TearDown() override {
    guard.reset();
    if (runner.joinable()) runner.join();
  }

  /// Builds provider "hsm" from one `providers:` entry.
  Result<std::unique_ptr<Provider>> make(const std::string& entry) {
    ::trousseau::settings::Diagnostics diag;
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

  /// The counting wrapper around SoftHSM2 (counting_module.hpp).
  std::string counting_module() const { return testkit::counting_module(hsm->module_path()); }

  /// An entry on the counting module, token and key by label, the PIN from
  /// `pin` ("pin_file: /path" or "pin_env: NAME"), with `extra` fields.
  std::string counted_entry(const std::string& pin, const std::string& extra = "") const {
    return "{name: hsm, type: pkcs11, module: " + counting_module() +
           ", token_label: " + hsm->token_label() + ", key_label: " + hsm->key_label() + ", " +
           pin + (extra.empty() ? "" : ", " + extra) + "}";
  }

  /// Closes every session on the token through `module`, which logs the
  /// process out (PKCS#11 logins belong to the application).
  void log_out(const std::string& module) {
    auto m = Module::load(module);
    ASSERT_TRUE(m.ok()) << m.error().message();
    ASSERT_EQ((*m)->api().C_CloseAllSessions(hsm->slot()), static_cast<CK_RV>(CKR_OK));
  }

  /// Options whose deadline no test reaches however slow the machine:
  /// tests assert outcomes and order, never durations.
  static CallOptions options() { return testkit::within(std::chrono::hours(24)); }

  /// Runs one async operation to completion (the io thread completes it).
  template <typename Op>
  auto run(Op op) {
    return op(asio::use_future).get();
  }

  Error probe(Provider& p) {
    return run([&](auto t) { return p.async_probe(options(), t); });
  }

  std::tuple<Error, WrapResult> wrap(Provider& p, ByteView share) {
    return run([&](auto t) { return p.async_wrap(options(), context(), share, t); });
  }

  std::tuple<Error, SecretBytes> unwrap(Provider& p, const WrapResult& w) {
    return run([&](auto t) { return p.async_unwrap(options(), context(), w.key_version, w.wrapped, t); });
  }

  /// Returns once everything posted to the io thread so far has run.
  void settle() {
    std::promise<void> done;
    asio::post(io, [&] { done.set_value(); });
    done.get_future().wait();
  }

  Bytes context(std::uint8_t x = 1) const { return envelope::share_context(nonce, 2, x); }

  testkit::SoftHsm* hsm = nullptr;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  std::thread runner;
  std::array<std::uint8_t, 12> nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
};

}  // namespace trousseau::providers::pkcs11
