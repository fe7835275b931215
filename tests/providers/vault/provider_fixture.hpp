// Builds vault providers through the registry, as the configuration does,
// against a fresh Vault test double per test, and runs their operations on
// an io_context thread.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <optional>
#include <thread>

#include "providers/legacy.hpp"
#include "providers/registry.hpp"
#include "providers/vault/vault_provider.hpp"
#include "support/call_options.hpp"
#include "support/provider_entry.hpp"
#include "support/temp_dir.hpp"
#include "vault_double.hpp"

namespace trousseau::providers::vault {

namespace asio = boost::asio;

class VaultFixture : public ::testing::Test {
 protected:
  /// Tests that move time emplace it before they create a provider; it is
  /// declared first so that it outlives every timer.
  std::optional<ManualTime> manual_time;
  testkit::TempDir dir;

  VaultFixture() : work_(asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~VaultFixture() override {
    work_.reset();
    io.stop();
    thread_.join();
  }

  /// Starts the double (SetUp of each test, or later with options).
  testkit::VaultDouble& start_double(testkit::VaultDoubleOptions options = {}) {
    vault_ = std::make_unique<testkit::VaultDouble>(std::move(options));
    return *vault_;
  }
  testkit::VaultDouble& vault() { return *vault_; }

  /// A token file holding `token`, replaced atomically (rename), as Vault
  /// Agent or a Kubernetes Secret volume replaces it.
  std::string token_file(const std::string& token, const std::string& name = "token") {
    const std::string path = dir.file(name);
    testkit::write_file(path + ".new", token + "\n");
    std::filesystem::rename(path + ".new", path);
    return path;
  }

  /// `settings`: the YAML flow mapping's entries besides name, type and
  /// address (e.g. "key: k, auth: {method: token, token_file: /f}").
  Result<std::unique_ptr<Provider>> create(const std::string& settings,
                                           const std::string& name = "vault") {
    ::trousseau::settings::Diagnostics diag;
    auto node = testkit::provider_entry("{name: " + name + ", type: vault, address: '" +
                                            vault_->address() + "', " + settings + "}",
                                        diag);
    (void)node.string("name");
    (void)node.string("type");
    const ProviderFactory* f = Registry::instance().find("vault");
    EXPECT_NE(f, nullptr);
    auto parsed = f->parse(node);
    node.reject_unknown_keys();
    EXPECT_TRUE(diag.ok()) << (diag.errors().empty() ? "" : diag.errors()[0]);
    return f->create(name, *parsed, ProviderContext{io.get_executor(), false});
  }

  /// create() with a root-made token in a token file, for key `key`.
  std::unique_ptr<Provider> make(const std::string& key = "k", const std::string& extra = "") {
    const std::string token = vault_->create_token(0);
    auto p = create("key: " + key + ", auth: {method: token, token_file: " + token_file(token) +
                    "}" + (extra.empty() ? "" : ", " + extra));
    EXPECT_TRUE(p.ok()) << p.error().message();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  static VaultProvider& as_vault(Provider& p) { return dynamic_cast<VaultProvider&>(p); }

  std::pair<Error, WrapResult> wrap(Provider& p, ByteView context, ByteView share) {
    return p.async_wrap(testkit::within(), context, share,
                        asio::use_future([](Error e, WrapResult r) {
                          return std::make_pair(std::move(e), std::move(r));
                        }))
        .get();
  }
  std::pair<Error, SecretBytes> unwrap(Provider& p, ByteView context, const std::string& version,
                                       ByteView wrapped) {
    return p.async_unwrap(testkit::within(), context, version, wrapped,
                          asio::use_future([](Error e, SecretBytes s) {
                            return std::make_pair(std::move(e), std::move(s));
                          }))
        .get();
  }
  Error probe(Provider& p) {
    return p.async_probe(testkit::within(), asio::use_future([](Error e) { return e; })).get();
  }
  std::pair<Error, SecretBytes> legacy(Provider& p, std::string_view ciphertext) {
    auto& d = dynamic_cast<LegacyDecrypter&>(p);
    return d.async_legacy_decrypt(testkit::within(), as_bytes(ciphertext),
                                  asio::use_future([](Error e, SecretBytes s) {
                                    return std::make_pair(std::move(e), std::move(s));
                                  }))
        .get();
  }

  asio::io_context io;

 private:
  std::unique_ptr<testkit::VaultDouble> vault_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace trousseau::providers::vault
