// Reload without restart: a bad configuration changes nothing, a good one
// keeps unchanged providers and adds new ones, requests in flight finish on
// the configuration they started with, and the policy's forgery rules hold
// across the swap.
#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "daemon/daemon.hpp"
#include "kms/client.hpp"
#include "support/fake_provider.hpp"
#include "support/running_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::daemon {
namespace {

using namespace std::chrono_literals;
using testkit::FakeProvider;
using KmsClient = kms::Client;
using testkit::RunningServer;

constexpr const char* kTwoFakes = R"(
providers: [{name: a, type: fake}, {name: b, type: fake}]
policy: {threshold: 1, slots: [{providers: [a]}, {providers: [b]}]}
)";

config::Config parse(const std::string& yaml, const RunningServer& running) {
  config::Diagnostics diag;
  auto cfg = config::load_string(
      "socket: " + running.socket() + "\nstate_dir: " + running.dir().file("state") + "\n" + yaml,
      diag);
  EXPECT_TRUE(cfg.has_value()) << (diag.errors().empty() ? "" : diag.errors()[0]);
  cfg->telemetry.listen = "127.0.0.1:0";
  return *cfg;
}

TEST(Reload, KeepsUnchangedProvidersAndBuildsNewOnes) {
  RunningServer running(kTwoFakes);
  ASSERT_TRUE(running.started());
  Daemon& d = running.server();
  quorum::ManagedProvider* a_before = d.engine()->find("a");
  quorum::ManagedProvider* b_before = d.engine()->find("b");
  KmsClient client(running.socket());
  v2::EncryptResponse old_envelope;
  ASSERT_TRUE(client.encrypt("written before", old_envelope).ok());

  // b's entry changes (a timeout), c is new, a is untouched.
  ASSERT_TRUE(d.apply(parse(R"(
providers: [{name: a, type: fake}, {name: b, type: fake, timeout: 900ms}, {name: c, type: fake}]
policy: {threshold: 1, slots: [{providers: [a]}, {providers: [b]}, {providers: [c]}]}
)", running)).ok());
  EXPECT_EQ(d.engine()->find("a"), a_before) << "an unchanged provider keeps its object";
  EXPECT_NE(d.engine()->find("b"), b_before) << "a changed provider is built again";
  ASSERT_NE(d.engine()->find("c"), nullptr);
  EXPECT_NE(old_envelope.key_id(), d.engine()->key_id());

  v2::EncryptResponse fresh;
  ASSERT_TRUE(client.encrypt("written after", fresh).ok());
  EXPECT_EQ(fresh.key_id(), d.engine()->key_id());
  EXPECT_EQ(FakeProvider::find("c")->wraps(), 1) << "the new provider is used at once";
  // What the earlier configuration wrote stays readable.
  v2::DecryptResponse plain;
  ASSERT_TRUE(client.decrypt(old_envelope.ciphertext(), old_envelope.key_id(),
                             old_envelope.annotations(), plain).ok());
  EXPECT_EQ(plain.plaintext(), "written before");
  EXPECT_EQ(d.reloads(), 2u);
  EXPECT_EQ(d.reload_failures(), 0u);
}

TEST(Reload, ABadConfigurationChangesNothing) {
  RunningServer running(kTwoFakes);
  ASSERT_TRUE(running.started());
  Daemon& d = running.server();
  auto engine_before = d.engine();

  // A provider that cannot be built (its key file directory does not exist
  // and may not be created): nothing is swapped.
  config::Config broken = parse(R"(
providers: [{name: a, type: fake}, {name: b, type: fake}, {name: k, type: keyfile, path: /proc/nope/k.key}]
policy: {threshold: 1, slots: [{providers: [a]}, {providers: [b]}, {providers: [k]}]}
)", running);
  EXPECT_FALSE(d.apply(broken).ok());
  // What start() bound cannot move.
  config::Config moved = parse(kTwoFakes, running);
  moved.socket = running.dir().file("elsewhere.sock");
  Error e = d.apply(moved);
  EXPECT_EQ(e.code(), Code::failed_precondition);
  EXPECT_NE(e.message().find("socket needs a restart"), std::string::npos) << e.message();
  config::Config sops = parse(kTwoFakes, running);
  sops.sops_keyservice.socket = running.dir().file("sops.sock");
  e = d.apply(sops);
  EXPECT_EQ(e.code(), Code::failed_precondition);
  EXPECT_NE(e.message().find("sops_keyservice.socket needs a restart"), std::string::npos) << e.message();

  EXPECT_EQ(d.engine(), engine_before);
  EXPECT_EQ(d.reload_failures(), 3u);
  v2::EncryptResponse out;
  EXPECT_TRUE(KmsClient(running.socket()).encrypt("still served", out).ok());
}

TEST(Reload, RequestsInFlightFinishOnTheirConfiguration) {
  RunningServer running(kTwoFakes);
  ASSERT_TRUE(running.started());
  KmsClient client(running.socket(), {.timeout = 10s});
  v2::EncryptResponse env;
  ASSERT_TRUE(client.encrypt("in flight", env).ok());
  FakeProvider* a = FakeProvider::find("a");
  FakeProvider* b = FakeProvider::find("b");
  a->script_unwrap({.delay = 300ms});
  b->script_unwrap({.delay = 300ms});
  auto pending = std::async(std::launch::async, [&] {
    v2::DecryptResponse out;
    grpc::Status st = client.decrypt(env.ciphertext(), env.key_id(), env.annotations(), out);
    return std::make_pair(st, out.plaintext());
  });
  ASSERT_TRUE(testkit::wait_until([&] { return a->in_flight() + b->in_flight() > 0; }));
  // The new configuration knows neither a nor b: the new engine could not
  // open this envelope, the one the request started on can.
  ASSERT_TRUE(running.server().apply(parse(R"(
providers: [{name: z, type: fake}]
policy: {threshold: 1, slots: [{providers: [z]}]}
)", running)).ok());
  auto [status, plaintext] = pending.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(plaintext, "in flight");
  // A new request meets the new configuration.
  v2::DecryptResponse again;
  EXPECT_FALSE(client.decrypt(env.ciphertext(), env.key_id(), env.annotations(), again).ok());
}

// An attacker who can write etcd forges a 1-of-2 envelope under a policy
// that was once 1-of-2; after the operator reloads to 2-of-2 it is refused,
// exactly as at start.
TEST(Reload, ForgeryRulesHoldAcrossTheSwap) {
  RunningServer running(kTwoFakes);
  ASSERT_TRUE(running.started());
  KmsClient client(running.socket());
  v2::EncryptResponse weak;
  ASSERT_TRUE(client.encrypt("one share opens me", weak).ok());
  ASSERT_TRUE(running.server().apply(parse(R"(
providers: [{name: a, type: fake}, {name: b, type: fake}]
policy: {threshold: 2, slots: [{providers: [a]}, {providers: [b]}]}
)", running)).ok());
  v2::DecryptResponse out;
  grpc::Status st = client.decrypt(weak.ciphertext(), weak.key_id(), weak.annotations(), out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(out.plaintext().empty());
  EXPECT_EQ(running.server().engine()->counters().forgeries_refused, 1u);
}

TEST(Reload, AChangedFileIsReloaded) {
  testkit::TempDir dir;
  const std::string path = dir.file("trousseau.yaml");
  const std::string head = "socket: " + dir.file("kms.sock") + "\nstate_dir: " +
                           dir.file("state") + "\ntelemetry: {listen: off}\n";
  std::ofstream(path) << head << kTwoFakes;
  config::Diagnostics diag;
  auto cfg = config::load_file(path, diag);
  ASSERT_TRUE(cfg);
  auto d = Daemon::create(*cfg, {.threads = 2, .first_probe_wait = 1s, .config_path = path,
                                 .watch_interval = 5ms});
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_TRUE(d.value()->start().ok());
  // Written in place, as an editor or a ConfigMap update does.
  {
    std::ofstream(path + ".new") << head << R"(
providers: [{name: a, type: fake}, {name: b, type: fake}, {name: c, type: fake}]
policy: {threshold: 1, slots: [{providers: [a]}, {providers: [b]}, {providers: [c]}]}
)";
  }
  std::filesystem::rename(path + ".new", path);
  ASSERT_TRUE(testkit::wait_until([&] { return d.value()->reloads() >= 2; }));
  EXPECT_NE(d.value()->engine()->find("c"), nullptr);
  EXPECT_EQ(d.value()->reload_failures(), 0u);

  // A broken edit is refused and counted; the running configuration stays.
  std::ofstream(path) << head << "policy: [";
  ASSERT_TRUE(testkit::wait_until([&] { return d.value()->reload_failures() >= 1; }));
  EXPECT_NE(d.value()->engine()->find("c"), nullptr);
  d.value()->shutdown(1s);
}

}  // namespace
}  // namespace trousseau::daemon
