// Builds awskms providers through the registry, as the configuration does,
// and runs their operations on an io_context thread.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <ctime>
#include <optional>
#include <thread>

#include "support/provider_entry.hpp"
#include "providers/awskms/credentials.hpp"
#include "providers/registry.hpp"
#include "support/call_options.hpp"

namespace trousseau::providers::awskms {

namespace asio = boost::asio;

class ProviderFixture : public ::testing::Test {
 protected:
  ProviderFixture() : work_(asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~ProviderFixture() override {
    work_.reset();
    io.stop();
    thread_.join();
  }

  /// `settings` is the YAML flow mapping of the provider entry, without braces.
  Result<std::unique_ptr<Provider>> create(const std::string& settings,
                                           const std::string& name = "aws") {
    ::trousseau::settings::Diagnostics diag;
    auto node =
        testkit::provider_entry("{name: " + name + ", type: awskms, " + settings + "}", diag);
    (void)node.string("name");
    (void)node.string("type");
    const ProviderFactory* f = Registry::instance().find("awskms");
    EXPECT_NE(f, nullptr);
    auto parsed = f->parse(node);
    node.reject_unknown_keys();
    EXPECT_TRUE(diag.ok()) << (diag.errors().empty() ? "" : diag.errors()[0]);
    return f->create(name, *parsed, ProviderContext{io.get_executor(), false});
  }

  std::pair<Error, WrapResult> wrap(Provider& p, ByteView context, ByteView share) {
    return p.async_wrap(::trousseau::testkit::within(), context, share, asio::use_future([](Error e, WrapResult r) {
      return std::make_pair(std::move(e), std::move(r));
    })).get();
  }
  std::pair<Error, SecretBytes> unwrap(Provider& p, ByteView context, const std::string& version,
                                       ByteView wrapped) {
    return p.async_unwrap(::trousseau::testkit::within(), context, version, wrapped, asio::use_future([](Error e, SecretBytes s) {
      return std::make_pair(std::move(e), std::move(s));
    })).get();
  }
  Error probe(Provider& p) {
    return p.async_probe(::trousseau::testkit::within(), asio::use_future([](Error e) { return e; })).get();
  }

  asio::io_context io;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

/// An STS AssumeRoleWithWebIdentity answer for access key `key` (secret
/// "s-<key>", token "t-<key>") that expires at `expires`, in whole seconds.
inline std::string sts_answer(const std::string& key, WallClock::time_point expires) {
  const std::time_t t = WallClock::to_time_t(expires);
  char buf[32];
  std::tm tm{};
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", ::gmtime_r(&t, &tm));
  return "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
         "<AccessKeyId>" + key + "</AccessKeyId><SecretAccessKey>s-" + key +
         "</SecretAccessKey><SessionToken>t-" + key + "</SessionToken><Expiration>" + buf +
         "</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
         "</AssumeRoleWithWebIdentityResponse>";
}

/// Sets an environment variable for the scope (tests in one binary run
/// sequentially).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace trousseau::providers::awskms
