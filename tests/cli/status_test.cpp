// `trousseau status`: Status from the real server process, the providers
// table from a /readyz?verbose document (docs/metrics.md) served by a local
// HTTP server, and the exit code for every way either can fail.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <iterator>
#include <sstream>

#include "cli/keyfile_server.hpp"
#include "cli/readiness.hpp"
#include "kms/client.hpp"
#include "support/command.hpp"
#include "support/local_http_server.hpp"
#include "support/serve_process.hpp"
#include "support/wait.hpp"

namespace trousseau::cli {
namespace {

using testkit::run_trousseau;

const std::string kReady = R"({
  "ready": true, "key_id": "trousseau-abc", "reason": "",
  "policy": {"threshold": 2, "min_encrypt_slots": 3, "slots": [["key-a"], ["key-b"], ["key-c", "key-d"]]},
  "healthy_slots": 3,
  "providers": [
    {"name": "key-a", "type": "keyfile", "slot": 0, "healthy": true, "probed": true,
     "breaker": "closed", "consecutive_failures": 0, "last_error": "",
     "latency_ms": {"mean": 0.12, "slow_after": 0.5}, "inflight": 0, "queued": 0,
     "key_identity": "sha256:aaaa"},
    {"name": "key-b", "type": "keyfile", "slot": 1, "healthy": true, "probed": true,
     "breaker": "closed", "consecutive_failures": 0, "last_error": "",
     "latency_ms": null, "inflight": 2, "queued": 1, "key_identity": "sha256:bbbb"}
  ]
})";

const std::string kNotReady = R"({
  "ready": false, "key_id": "trousseau-abc", "reason": "1 of 3 slots healthy, writes need 3",
  "policy": {"threshold": 2, "min_encrypt_slots": 3, "slots": [["key-a"], ["key-b"], ["key-c"]]},
  "healthy_slots": 1,
  "providers": [
    {"name": "key-a", "type": "keyfile", "slot": 0, "healthy": true, "probed": true,
     "breaker": "closed", "consecutive_failures": 0, "last_error": "",
     "latency_ms": {"mean": 0.1, "slow_after": 0.2}, "inflight": 0, "queued": 0, "key_identity": "sha256:aaaa"},
    {"name": "key-b", "type": "pkcs11", "slot": 1, "healthy": false, "probed": true,
     "breaker": "open", "consecutive_failures": 4, "last_error": "CKR_DEVICE_REMOVED",
     "latency_ms": {"mean": 3.5, "slow_after": 40}, "inflight": 0, "queued": 0, "key_identity": "token 1/key 7"}
  ]
})";

class StatusCommand : public WithKeyfileServer {
 protected:
  testkit::CommandResult status(const std::string& metrics) {
    return run_trousseau({"status", "--socket", socket(), "--metrics", metrics});
  }
  std::string key_id() {
    v2::StatusResponse st;
    EXPECT_TRUE(kms::Client(socket()).status(st).ok());
    return st.key_id();
  }
};

TEST_F(StatusCommand, PrintsStatusAndEveryProviderWhenReady) {
  testkit::LocalHttpServer metrics;
  metrics.script({testkit::respond(200, kReady)});
  auto run = status(metrics.url());
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("healthz    ok"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("key_id     " + key_id()), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("readiness  ready (3 of 3 slots healthy; policy 2-of-3, writes need 3)"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("PROVIDER"), std::string::npos);
  for (const char* cell : {"key-a", "key-b", "sha256:aaaa", "sha256:bbbb", "0.12", "0.50"}) {
    EXPECT_NE(run.out.find(cell), std::string::npos) << cell << "\n" << run.out;
  }
  ASSERT_EQ(metrics.requests(), 1);
  EXPECT_EQ(metrics.seen()[0].method, "GET");
  EXPECT_EQ(metrics.seen()[0].target, "/readyz?verbose");
}

TEST_F(StatusCommand, ExitsOneWhenNotReadyAndStillPrintsTheProviders) {
  testkit::LocalHttpServer metrics;
  metrics.script({testkit::respond(503, kNotReady)});
  auto run = status(metrics.url());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("healthz    ok"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("readiness  NOT READY (1 of 3 slots healthy"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("reason     1 of 3 slots healthy, writes need 3"), std::string::npos);
  EXPECT_NE(run.out.find("unhealthy"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("open"), std::string::npos);
  EXPECT_NE(run.out.find("key-b: last error: CKR_DEVICE_REMOVED"), std::string::npos) << run.out;
  EXPECT_EQ(metrics.requests(), 1) << "a 503 is an answer, not a reason to retry";
}

TEST_F(StatusCommand, ExitsOneWhenTheMetricsListenerCannotBeReached) {
  // A port that is bound but not listening refuses every connection.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto run = status(url);
  ::close(fd);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("healthz    ok"), std::string::npos) << "what could be read is printed";
  EXPECT_NE(run.out.find("readiness  unknown"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("GET " + url + "/readyz?verbose"), std::string::npos) << run.err;
}

TEST_F(StatusCommand, ExitsOneOnAnAnswerThatIsNotTheDocument) {
  testkit::LocalHttpServer metrics;
  for (const testkit::Reply& reply : {testkit::respond(200, "ok"), testkit::respond(404, "")}) {
    metrics.script({reply});
    auto run = status(metrics.url());
    EXPECT_EQ(run.exit_code, 1) << reply.status;
    EXPECT_NE(run.out.find("readiness  unknown"), std::string::npos) << run.out;
    EXPECT_NE(run.err.find("trousseau status: GET "), std::string::npos) << run.err;
  }
}

TEST_F(StatusCommand, MetricsOffSkipsTheTable) {
  auto run = status("off");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("healthz    ok"), std::string::npos);
  EXPECT_EQ(run.out.find("readiness"), std::string::npos) << run.out;
}

TEST_F(StatusCommand, HttpsOrAnotherHostIsAUsageError) {
  auto https = status("https://127.0.0.1:8095");
  EXPECT_EQ(https.exit_code, 2);
  EXPECT_NE(https.err.find("https is not supported"), std::string::npos) << https.err;
  auto remote = status("http://192.0.2.1:8095");  // TEST-NET-1: refused before any connection
  EXPECT_EQ(remote.exit_code, 2);
  EXPECT_NE(remote.err.find("only a loopback address"), std::string::npos) << remote.err;
}

TEST(StatusWithoutServer, ExitsOneAndSaysTheSocketIsMissing) {
  testkit::TempDir dir;
  auto run = run_trousseau({"status", "--socket", dir.file("absent.sock"), "--metrics", "off"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("UNAVAILABLE"), std::string::npos) << run.err;
}

TEST(StatusOfAnUnhealthyPlugin, ExitsOneAndShowsHealthz) {
  // W = 2 of 2 slots: once a key file is gone the plugin cannot write.
  testkit::ServeProcess server(R"(
providers:
  - {name: key-a, type: keyfile, path: "{dir}/keys/a.key"}
  - {name: key-b, type: keyfile, path: "{dir}/keys/b.key"}
policy: {threshold: 1, slots: [{providers: [key-a]}, {providers: [key-b]}]}
health: {probe_interval: 100ms, unhealthy_probe_interval: 50ms}
)");
  ASSERT_TRUE(server.started());
  std::filesystem::remove(server.dir().file("keys/b.key"));
  kms::Client client(server.socket());
  ASSERT_TRUE(testkit::wait_until([&] {
    v2::StatusResponse st;
    return client.status(st).ok() && st.healthz() != "ok";
  })) << server.log();
  auto run = run_trousseau({"status", "--socket", server.socket(), "--metrics", "off"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("healthz    unhealthy"), std::string::npos) << run.out;
}

// The whole path: the plugin's own /readyz?verbose, read by `status`.
TEST(StatusOfARealPlugin, ShowsEveryProviderFromItsTelemetry) {
  testkit::ServeProcess server(R"(
providers:
  - {name: key-a, type: keyfile, path: "{dir}/keys/a.key"}
  - {name: key-b, type: keyfile, path: "{dir}/keys/b.key"}
policy: {threshold: 1, slots: [{providers: [key-a]}, {providers: [key-b]}]}
)");
  ASSERT_TRUE(server.started());
  // Telemetry listens on a free port; the plugin logs which.
  const std::string marker = R"("msg":"telemetry listening","address":")";
  std::string address;
  ASSERT_TRUE(testkit::wait_until([&] {
    const std::string log = server.log();
    const auto at = log.find(marker);
    if (at == std::string::npos) return false;
    const auto start = at + marker.size();
    address = log.substr(start, log.find('"', start) - start);
    return true;
  })) << server.log();
  auto run = run_trousseau({"status", "--socket", server.socket(), "--metrics", "http://" + address});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("readiness  ready"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("MEAN MS"), std::string::npos) << run.out;
  for (const char* name : {"key-a", "key-b"}) {
    EXPECT_NE(run.out.find(name), std::string::npos) << run.out;
  }
  EXPECT_NE(run.out.find("sha256:"), std::string::npos) << "key identities: " << run.out;
}

TEST(Readiness, MissingOrMistypedFieldsShowAsDashes) {
  auto r = parse_readiness(200, R"({"ready": true, "providers": [{"name": "x", "slot": "zero",
      "healthy": "yes", "latency_ms": {"mean": "fast"}}, 7]})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->providers.size(), 1u);
  const std::string table = render_readiness(r.value());
  const std::size_t row = table.find("\nx ");
  ASSERT_NE(row, std::string::npos) << table;
  std::istringstream cells(table.substr(row + 1, table.find('\n', row + 1) - row - 1));
  std::vector<std::string> words(std::istream_iterator<std::string>{cells}, {});
  // The name, then a dash for each of the ten columns but TYPE (empty).
  EXPECT_EQ(words, std::vector<std::string>({"x", "-", "-", "-", "-", "-", "-", "-", "-", "-"}))
      << table;
}

TEST(Readiness, ADocumentWithoutReadyIsRefused) {
  EXPECT_FALSE(parse_readiness(200, R"({"providers": []})").ok());
  EXPECT_FALSE(parse_readiness(200, "[true]").ok());
  EXPECT_FALSE(parse_readiness(503, "").ok());
}

TEST(Readiness, ReadyNeedsBothTheFlagAndHttp200) {
  EXPECT_TRUE(parse_readiness(200, R"({"ready": true})")->ready);
  EXPECT_FALSE(parse_readiness(503, R"({"ready": true})")->ready);
  EXPECT_FALSE(parse_readiness(200, R"({"ready": false})")->ready);
}

TEST(Readiness, ProviderTextCannotDriveTheTerminal) {
  auto r = parse_readiness(200, R"({"ready": true, "providers": [{"name": "a\u001b[2J",
      "last_error": "x\nforged line"}]})");
  ASSERT_TRUE(r.ok());
  const std::string out = render_readiness(r.value());
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_NE(out.find("x\\nforged line"), std::string::npos) << out;
}

}  // namespace
}  // namespace trousseau::cli
