// A provider built from one configuration entry, on an io_context of its
// own thread, and its calls as blocking functions: for provider tests that
// talk to a real server.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "providers/registry.hpp"
#include "support/call_options.hpp"
#include "support/provider_entry.hpp"

namespace trousseau::testkit {

class ProviderRunner {
 public:
  ProviderRunner() : work_(boost::asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~ProviderRunner() {
    work_.reset();
    io.stop();
    thread_.join();
  }
  ProviderRunner(const ProviderRunner&) = delete;
  ProviderRunner& operator=(const ProviderRunner&) = delete;

  /// Parses `settings` (the entry's keys as a YAML flow mapping, without
  /// braces, `type` included) as the configuration loader does, expecting
  /// no diagnostics, and creates provider `name`.
  Result<std::unique_ptr<providers::Provider>> create(const std::string& settings,
                                                      const std::string& name = "p") {
    settings::Diagnostics diag;
    auto node = provider_entry("{name: " + name + ", " + settings + "}", diag);
    (void)node.string("name");
    const std::string type = node.string("type");
    const providers::ProviderFactory* f = providers::Registry::instance().find(type);
    if (f == nullptr) return Error(Code::internal, "no provider type " + type);
    auto parsed = f->parse(node);
    node.reject_unknown_keys();
    EXPECT_TRUE(diag.ok()) << (diag.errors().empty() ? "" : diag.errors()[0]);
    return f->create(name, *parsed, providers::ProviderContext{io.get_executor(), false});
  }

  boost::asio::io_context io;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

inline std::pair<Error, providers::WrapResult> wrap(providers::Provider& p, ByteView context,
                                                    ByteView share,
                                                    providers::CallOptions options = within()) {
  return p.async_wrap(options, context, share,
                      boost::asio::use_future([](Error e, providers::WrapResult r) {
                        return std::make_pair(std::move(e), std::move(r));
                      }))
      .get();
}

inline std::pair<Error, SecretBytes> unwrap(providers::Provider& p, ByteView context,
                                            const providers::WrapResult& w,
                                            providers::CallOptions options = within()) {
  return p.async_unwrap(options, context, w.key_version, w.wrapped,
                        boost::asio::use_future([](Error e, SecretBytes s) {
                          return std::make_pair(std::move(e), std::move(s));
                        }))
      .get();
}

inline Error probe(providers::Provider& p, providers::CallOptions options = within()) {
  return p.async_probe(options, boost::asio::use_future([](Error e) { return e; })).get();
}

}  // namespace trousseau::testkit
