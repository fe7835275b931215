// The engine over real key files: kms's services run such requests on the
// gRPC thread that received them (common/caller_executor.hpp).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/caller_executor.hpp"
#include "providers/keyfile/keyfile_provider.hpp"
#include "quorum/engine.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::quorum {
namespace {

namespace asio = boost::asio;

const Bytes kSeed = to_bytes("0123456789abcdef0123456789abcdef");

/// An engine over real key files, on an io_context nobody runs.
struct KeyfileEngine {
  KeyfileEngine(const std::vector<std::string>& names, unsigned k, config::DecryptStrategy s) {
    cfg.policy.threshold = k;
    cfg.policy.min_encrypt_slots = static_cast<unsigned>(names.size()) - 1;  // a grace would start
    cfg.policy.decrypt = s;
    std::vector<std::unique_ptr<ManagedProvider>> managed;
    for (const std::string& name : names) {
      cfg.policy.slots.push_back({name});
      config::ProviderConfig pc;
      pc.name = name;
      pc.type = "keyfile";
      cfg.providers.push_back(pc);
      const std::string path = dir.file(name + ".key");
      EXPECT_TRUE(providers::keyfile::KeyfileProvider::create_if_missing(path).ok());
      managed.push_back(std::make_unique<ManagedProvider>(
          std::make_unique<providers::keyfile::KeyfileProvider>(name, path, io.get_executor()), pc,
          cfg.health, io.get_executor()));
    }
    engine = std::make_shared<Engine>(io, cfg, std::move(managed));
  }

  RequestInfo request() const {
    return {Clock::now() + std::chrono::seconds(2), "caller-thread", nullptr};
  }

  testkit::TempDir dir;
  asio::io_context io;
  config::Config cfg;
  std::shared_ptr<Engine> engine;
};

// kms's services run each request on the gRPC thread that received it
// (common/caller_executor.hpp). Requests to key files then answer before the
// service method returns, and arm no timer: the io_context's threads are
// never woken (docs/performance.md). Here nobody runs the io_context at
// all, so anything that needed it would leave the request unanswered.
TEST(KeyfileEngine, AnswersOnTheCallersThreadWithoutAnIoThread) {
  for (const auto strategy : {config::DecryptStrategy::hedged, config::DecryptStrategy::all}) {
    KeyfileEngine e({"a", "b", "c"}, 2, strategy);
    std::optional<EncryptOutcome> sealed;
    {
      Strand strand = e.engine->make_strand();
      CallerQueue here(strand);  // as kms's services do
      e.engine->async_encrypt(strand, kSeed, {}, e.request(),
                              [&](Error err, EncryptOutcome out) {
                                ASSERT_TRUE(err.ok()) << err.message();
                                sealed = std::move(out);
                              });
      EXPECT_FALSE(sealed) << "never inside the initiating call";
      here.run();
    }
    ASSERT_TRUE(sealed);
    EXPECT_TRUE(sealed->missing.empty());
    std::optional<Result<SecretBytes>> opened;
    {
      Strand strand = e.engine->make_strand();
      CallerQueue here(strand);
      e.engine->async_decrypt(strand, sealed->encoded.ciphertext,
                              sealed->encoded.annotations, e.request(),
                              [&](Error err, SecretBytes plain) {
                                opened = err.ok() ? Result<SecretBytes>(std::move(plain))
                                                  : Result<SecretBytes>(err);
                              });
      here.run();
    }
    ASSERT_TRUE(opened);
    ASSERT_TRUE(opened->ok()) << opened->error().message();
    EXPECT_TRUE((*opened)->equals(kSeed));
    // Nothing was posted to the io_context, and no deadline, call timeout,
    // hedge or grace timer waits in it: with no work left, poll() stops it.
    EXPECT_EQ(e.io.poll(), 0u);
    EXPECT_TRUE(e.io.stopped()) << "a timer is still armed";
  }
}

// The same requests without a CallerQueue run on the io_context, and still
// answer: the caller's thread is a shortcut, not a requirement.
TEST(KeyfileEngine, AnswersOnTheIoContextWithoutACallerQueue) {
  KeyfileEngine e({"a", "b", "c"}, 2, config::DecryptStrategy::hedged);
  std::optional<EncryptOutcome> sealed;
  e.engine->async_encrypt(e.engine->make_strand(), kSeed, {}, e.request(),
                          [&](Error err, EncryptOutcome out) {
                            ASSERT_TRUE(err.ok()) << err.message();
                            sealed = std::move(out);
                          });
  EXPECT_FALSE(sealed);
  e.io.run();
  ASSERT_TRUE(sealed);
  std::optional<bool> equal;
  e.io.restart();
  e.engine->async_decrypt(e.engine->make_strand(), sealed->encoded.ciphertext,
                          sealed->encoded.annotations, e.request(),
                          [&](Error err, SecretBytes plain) {
                            ASSERT_TRUE(err.ok()) << err.message();
                            equal = plain.equals(kSeed);
                          });
  e.io.run();
  ASSERT_TRUE(equal);
  EXPECT_TRUE(*equal);
}


}  // namespace
}  // namespace trousseau::quorum
