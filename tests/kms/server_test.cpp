// The server's life cycle: socket ownership, draining, signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "kms/client.hpp"
#include "kms/request.hpp"
#include "support/fake_provider.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"

namespace trousseau::kms {
namespace {

using namespace std::chrono_literals;
using testkit::RunningServer;
using testkit::TempDir;

constexpr const char* kOneKeyfile = R"(
providers:
  - {name: local, type: keyfile, path: "{dir}/keys/local.key"}
policy:
  threshold: 1
  slots: [{providers: [local]}]
)";

std::optional<config::Config> parse(const std::string& yaml) {
  config::Diagnostics diag;
  auto cfg = config::load_string(yaml, diag);
  EXPECT_TRUE(cfg.has_value()) << (diag.errors().empty() ? "" : diag.errors()[0]);
  if (cfg) cfg->telemetry.listen = "127.0.0.1:0";
  return cfg;
}

std::string with_socket(const TempDir& dir, const std::string& socket) {
  return "socket: " + socket + "\nstate_dir: " + dir.file("state") +
         "\ntelemetry: {listen: \"127.0.0.1:0\"}\n" +
         testkit::replace_all(kOneKeyfile, "{dir}", dir.path().string());
}

TEST(Server, RefusesToStartWhenALiveProcessServesTheSocket) {
  RunningServer first(kOneKeyfile);
  ASSERT_TRUE(first.started());
  TempDir dir;
  auto cfg = parse(with_socket(dir, first.socket()));
  auto second = daemon::Daemon::create(*cfg, {.create_missing_keys = true, .threads = 2});
  ASSERT_TRUE(second.ok());
  Error e = second.value()->start();
  EXPECT_EQ(e.code(), Code::failed_precondition);
  EXPECT_NE(e.message().find("another process is serving"), std::string::npos);
  // The first server is untouched.
  v2::StatusResponse st;
  EXPECT_TRUE(Client(first.socket()).status(st).ok());
}

TEST(Server, RemovesAStaleSocket) {
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);  // bound, never listening: a crashed plugin leaves this behind
  ASSERT_TRUE(std::filesystem::exists(path));
  auto cfg = parse(with_socket(dir, path));
  auto server = daemon::Daemon::create(*cfg, {.create_missing_keys = true, .threads = 2});
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(server.value()->start().ok());
  v2::StatusResponse st;
  EXPECT_TRUE(Client(path).status(st).ok());
  server.value()->shutdown(100ms);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Server, RefusesToRemoveSomethingThatIsNotASocket) {
  TempDir dir;
  const std::string path = dir.file("precious.txt");
  testkit::write_file(path, "do not delete");
  auto cfg = parse(with_socket(dir, path));
  auto server = daemon::Daemon::create(*cfg, {.create_missing_keys = true, .threads = 2});
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server.value()->start().code(), Code::failed_precondition);
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(Server, AProviderThatCannotStartFailsCreateWithItsErrorAndNoCrash) {
  // The key file cannot be made (its folder is a regular file): the first
  // generation is never built, and the half-made daemon must still
  // destroy cleanly.
  TempDir dir;
  testkit::write_file(dir.file("keys"), "not a folder");
  auto cfg = parse(with_socket(dir, dir.file("k.sock")));
  ASSERT_TRUE(cfg.has_value());
  auto server = daemon::Daemon::create(*cfg, {.create_missing_keys = true, .threads = 2});
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message().find("local"), std::string::npos) << server.error().message();
}

TEST(Server, ShutdownDrainsInFlightCalls) {
  RunningServer server(R"(
providers: [{name: slow, type: fake}]
policy: {threshold: 1, slots: [{providers: [slow]}]}
)");
  ASSERT_TRUE(server.started());
  Client client(server.socket());
  v2::EncryptResponse enc;
  ASSERT_TRUE(client.encrypt(std::string(32, 's'), enc).ok());
  testkit::FakeProvider* fake = testkit::FakeProvider::find("slow");
  ASSERT_NE(fake, nullptr);
  fake->script_unwrap({.delay = 300ms});
  auto pending = std::async(std::launch::async, [&] {
    v2::DecryptResponse out;
    grpc::Status st = client.decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), out);
    return std::make_pair(st, out.plaintext());
  });
  ASSERT_TRUE(testkit::wait_until([&] { return fake->in_flight() == 1; }));  // in flight
  server.server().shutdown(2s);
  auto [st, plain] = pending.get();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(plain, std::string(32, 's'));
}

TEST(Server, SigtermStopsTheProcessWithExitZero) {
  const char* bin = std::getenv("TROUSSEAU_BIN");
  ASSERT_NE(bin, nullptr) << "TROUSSEAU_BIN must point at the trousseau binary";
  TempDir dir;
  const std::string socket = dir.file("kms.sock");
  const std::string config = dir.file("config.yaml");
  testkit::write_file(config, with_socket(dir, socket));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen("/dev/null", "w", stdout);
    ::execl(bin, bin, "serve", "--config", config.c_str(), nullptr);
    ::_exit(127);
  }
  Client client(socket, {.timeout = 5s});
  v2::StatusResponse st;
  grpc::Status status = client.status(st);  // wait-for-ready: waits for the socket
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(st.healthz(), "ok");
  // The process holds keys: no core file may ever be written.
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  std::string line, core;
  while (std::getline(limits, line)) {
    if (line.rfind("Max core file size", 0) == 0) core = line;
  }
  EXPECT_NE(core.find(" 0 "), std::string::npos) << core;
  EXPECT_EQ(core.find("unlimited"), std::string::npos) << core;
  // The socket is private, and its staging directory is gone.
  struct ::stat sst {};
  ASSERT_EQ(::stat(socket.c_str(), &sst), 0);
  EXPECT_EQ(sst.st_mode & 0777, 0600u);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().rfind(".trousseau-", 0), std::string::npos)
        << entry.path();
  }
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  EXPECT_FALSE(std::filesystem::exists(socket));
}

TEST(CheckConfig, ReportsErrorsAndExitsNonZero) {
  const char* bin = std::getenv("TROUSSEAU_BIN");
  ASSERT_NE(bin, nullptr);
  TempDir dir;
  const std::string config = dir.file("bad.yaml");
  testkit::write_file(config, "policy: {threshold: 2, slots: [{providers: [a]}]}\n"
                              "providers: [{name: a, type: keyfile}]\n");
  const std::string cmd = std::string(bin) + " check-config " + config + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = ::pclose(p);
  EXPECT_NE(WEXITSTATUS(rc), 0);
  EXPECT_NE(out.find("providers[0].path: is required"), std::string::npos) << out;
  EXPECT_NE(out.find("policy.threshold"), std::string::npos) << out;
}

// The v2 and v1beta1 services keep one plaintext copy each way, in the
// message gRPC owns, and register it here. Once gRPC is done with the call
// the reactor wipes both before it frees itself.
TEST(EngineReactor, WipesTheRequestAndResponsePlaintextWhenGrpcIsDone) {
  boost::asio::io_context io;
  Inflight inflight;
  ASSERT_TRUE(inflight.enter());
  std::string request_plain(100, 'p');
  std::string response_plain(5000, 'q');  // beyond any small-string buffer
  const char* request_data = request_plain.data();
  const char* response_data = response_plain.data();
  auto* reactor = new EngineReactor(nullptr, make_caller_strand(io), inflight,
                                    RequestLog(RequestObserver::none(), Api::v2, Method::decrypt, "t"));
  reactor->wipe_on_done(&request_plain);
  reactor->wipe_on_done(&response_plain);
  EXPECT_EQ(request_plain, std::string(100, 'p')) << "wiped before gRPC is done";
  reactor->OnDone();  // deletes the reactor
  EXPECT_EQ(inflight.count(), 0);
  // Same buffers, now all zero: wiped in place, not replaced.
  ASSERT_EQ(request_plain.data(), request_data);
  ASSERT_EQ(response_plain.data(), response_data);
  EXPECT_EQ(request_plain, std::string(100, '\0'));
  EXPECT_EQ(response_plain, std::string(5000, '\0'));
}

}  // namespace
}  // namespace trousseau::kms
