// The plugin's own telemetry, end to end: /metrics counts what a run did,
// /livez and /readyz say what they promise, and no log line nor metric ever
// carries a key, a share or a plaintext.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "common/bytes.hpp"
#include "common/log.hpp"
#include "daemon/daemon.hpp"
#include "kms/client.hpp"
#include "support/fake_provider.hpp"
#include "support/http_get.hpp"
#include "support/running_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::daemon {
namespace {

using namespace std::chrono_literals;
using testkit::FakeProvider;
using KmsClient = kms::Client;
using testkit::RunningServer;
using testkit::sample;

constexpr const char* kTwoOfThree = R"(
log_level: debug
providers:
  - {name: a, type: fake}
  - {name: b, type: fake}
  - {name: k, type: keyfile, path: "{dir}/k.key"}
policy: {threshold: 2, slots: [{providers: [a]}, {providers: [b]}, {providers: [k]}]}
health: {probe_interval: 100ms, unhealthy_probe_interval: 100ms}
)";

std::string metrics_of(Daemon& d) {
  auto r = testkit::http_get(*d.telemetry_endpoint(), "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.content_type.find("version=0.0.4"), std::string::npos);
  return r.body;
}

TEST(Telemetry, MetricsCountWhatTheRunDid) {
  RunningServer running(kTwoOfThree);
  ASSERT_TRUE(running.started());
  Daemon& d = running.server();
  KmsClient client(running.socket());
  std::vector<v2::EncryptResponse> envelopes(5);
  for (auto& e : envelopes) ASSERT_TRUE(client.encrypt("secret", e).ok());
  for (int i = 0; i < 3; ++i) {
    v2::DecryptResponse out;
    ASSERT_TRUE(client.decrypt(envelopes[i].ciphertext(), envelopes[i].key_id(),
                               envelopes[i].annotations(), out).ok());
  }
  v2::DecryptResponse bad;
  EXPECT_EQ(client.decrypt("", "", {}, bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1beta1::EncryptResponse v1;
  ASSERT_TRUE(client.v1_encrypt("old api", v1).ok());

  const std::string t = metrics_of(d);
  EXPECT_EQ(sample(t, R"(trousseau_requests_total{api="v2",code="OK",method="Encrypt"})"), 5);
  EXPECT_EQ(sample(t, R"(trousseau_requests_total{api="v2",code="OK",method="Decrypt"})"), 3);
  EXPECT_EQ(sample(t, R"(trousseau_requests_total{api="v2",code="INVALID_ARGUMENT",method="Decrypt"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_requests_total{api="v1beta1",code="OK",method="Encrypt"})"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_request_duration_seconds_count{api="v2",method="Encrypt"})"), 5);
  // Every Encrypt wraps a share with each of the three providers.
  for (const char* p : {"a", "b", "k"}) {
    EXPECT_EQ(sample(t, std::string(R"(trousseau_provider_calls_total{operation="wrap",outcome="ok",provider=")") + p + "\"}"), 6) << p;
  }
  // Each Decrypt needs two unwraps (hedged: the best two first).
  double unwraps = 0;
  for (const char* p : {"a", "b", "k"}) {
    for (const char* o : {"ok", "cancelled"}) {
      unwraps += sample(t, std::string(R"(trousseau_provider_calls_total{operation="unwrap",outcome=")") + o + R"(",provider=")" + p + "\"}");
    }
  }
  EXPECT_GE(unwraps, 6);
  EXPECT_EQ(sample(t, R"(trousseau_quorum_outcomes_total{operation="encrypt",outcome="ok"})"), 6);
  EXPECT_EQ(sample(t, R"(trousseau_quorum_outcomes_total{operation="decrypt",outcome="ok"})"), 3);
  EXPECT_EQ(sample(t, "trousseau_ready"), 1);
  EXPECT_EQ(sample(t, "trousseau_key_id_info{key_id_hash=\"" +
                          telemetry::Metrics::key_id_hash(d.engine()->key_id()) + "\"}"), 1);
  EXPECT_EQ(sample(t, R"(trousseau_provider_healthy{provider="k"})"), 1);
}

TEST(Telemetry, ReadyzFollowsTheQuorumAndLivezDoesNot) {
  RunningServer running(kTwoOfThree);
  ASSERT_TRUE(running.started());
  Daemon& d = running.server();
  const auto at = *d.telemetry_endpoint();
  EXPECT_EQ(testkit::http_get(at, "/readyz").status, 200u);
  EXPECT_EQ(testkit::http_get(at, "/livez").body, "ok\n");

  // Two KMSes down: W = 3 slots cannot be reached.
  FakeProvider::find("a")->script_probe({.fail = Code::unavailable});
  FakeProvider::find("b")->script_probe({.fail = Code::unavailable});
  ASSERT_TRUE(testkit::wait_until([&] {
    const std::string t = metrics_of(d);
    return sample(t, R"(trousseau_provider_healthy{provider="a"})") == 0 &&
           sample(t, R"(trousseau_provider_healthy{provider="b"})") == 0;
  }));
  EXPECT_EQ(testkit::http_get(at, "/readyz").status, 503u);
  EXPECT_EQ(testkit::http_get(at, "/livez").status, 200u) << "a restart would not help";
  auto verbose = testkit::http_get(at, "/readyz?verbose");
  EXPECT_EQ(verbose.status, 503u);
  EXPECT_EQ(verbose.content_type, "application/json");
  const auto doc = boost::json::parse(verbose.body).as_object();
  EXPECT_FALSE(doc.at("ready").as_bool());
  const auto& providers = doc.at("providers").as_array();
  ASSERT_EQ(providers.size(), 3u);
  EXPECT_EQ(providers[0].at("name").as_string(), "a");
  EXPECT_EQ(providers[0].at("breaker").as_string(), "open");
  EXPECT_FALSE(providers[0].at("last_error").as_string().empty());
  EXPECT_EQ(providers[2].at("name").as_string(), "k");
  EXPECT_TRUE(providers[2].at("healthy").as_bool());
  EXPECT_TRUE(providers[2].at("latency_ms").is_object());
  EXPECT_EQ(sample(metrics_of(d), "trousseau_ready"), 0);

  FakeProvider::find("a")->script_probe({});
  FakeProvider::find("b")->script_probe({});
  ASSERT_TRUE(testkit::wait_until([&] { return testkit::http_get(at, "/readyz").status == 200; }));
  EXPECT_EQ(testkit::http_get(at, "/nothing-here").status, 404u);
}

/// fd 2 into a file for the life of this object.
class CaptureStderr {
 public:
  explicit CaptureStderr(const std::string& path) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~CaptureStderr() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
  }

 private:
  int saved_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Every form a secret could leak in: raw, hex (both cases) and base64.
std::vector<std::string> forms(ByteView secret) {
  std::string hex = hex_encode(secret);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {std::string(as_chars(secret)), hex, upper, base64_encode(secret)};
}

// A full session at debug level: Encrypt, Decrypt, a failing provider, a
// bad request, a reload; then every log line, /metrics and /readyz?verbose
// are searched for the plaintext, each share and the key file's bytes.
TEST(Telemetry, NoSecretReachesTheLogsOrTheMetrics) {
  testkit::TempDir logs;
  const std::string log_path = logs.file("stderr.log");
  std::string text;
  std::vector<std::vector<std::string>> secrets;
  {
    CaptureStderr capture(log_path);
    RunningServer running(kTwoOfThree);
    ASSERT_TRUE(running.started());
    log::set_level(log::Level::debug);
    log::set_format(log::Format::json);
    Daemon& d = running.server();
    KmsClient client(running.socket());
    const std::string plaintext = "plaintext-7c1e5a90f3b24d68a1e0c9d7b6f5e4a3";
    v2::EncryptResponse enc;
    ASSERT_TRUE(client.encrypt(plaintext, enc, "uid-leak-test").ok());
    FakeProvider::find("a")->script_unwrap({.fail = Code::unavailable});
    v2::DecryptResponse out;
    ASSERT_TRUE(client.decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), out).ok());
    ASSERT_EQ(out.plaintext(), plaintext);
    v2::DecryptResponse refused;
    std::string tampered = enc.ciphertext();
    tampered.back() = static_cast<char>(tampered.back() ^ 1);
    EXPECT_FALSE(client.decrypt(tampered, enc.key_id(), enc.annotations(), refused).ok());
    ASSERT_TRUE(d.apply(d.engine()->config()).ok());
    text = metrics_of(d) + testkit::http_get(*d.telemetry_endpoint(), "/readyz?verbose").body;

    secrets.push_back(forms(as_bytes(plaintext)));
    for (const char* name : {"a", "b"}) {
      for (const Bytes& share : FakeProvider::find(name)->shares_seen()) secrets.push_back(forms(share));
    }
    const std::string key = read_all(running.dir().file("k.key"));
    ASSERT_FALSE(key.empty());
    secrets.push_back(forms(as_bytes(key)));
  }
  log::set_level(log::Level::info);
  const std::string logged = read_all(log_path);
  // The session was logged at debug level: provider calls, requests, audit.
  EXPECT_NE(logged.find("\"msg\":\"provider call\""), std::string::npos) << logged.substr(0, 2000);
  EXPECT_NE(logged.find("\"msg\":\"audit: envelope opened\""), std::string::npos);
  EXPECT_NE(logged.find("uid-leak-test"), std::string::npos);
  ASSERT_GE(secrets.size(), 4u);
  for (const auto& secret : secrets) {
    for (const std::string& form : secret) {
      ASSERT_GE(form.size(), 16u);
      EXPECT_EQ(logged.find(form), std::string::npos) << "a secret is in the log: " << form;
      EXPECT_EQ(text.find(form), std::string::npos) << "a secret is in the metrics: " << form;
    }
  }
}

// Two of the three slots wrap with public keys (fakes that claim it), and
// the threshold is 2: anyone holding those keys could forge envelopes. The
// operator is told, as an error, at each configuration load.
TEST(Telemetry, APolicyPublicKeysAloneCanForgeIsReported) {
  testkit::TempDir logs;
  const std::string log_path = logs.file("stderr.log");
  {
    RunningServer running(kTwoOfThree);
    ASSERT_TRUE(running.started());
    Daemon& d = running.server();
    CaptureStderr capture(log_path);
    ASSERT_TRUE(d.apply(d.engine()->config()).ok());  // one provider only: still safe
    FakeProvider::find("a")->set_anyone_can_wrap(true);
    ASSERT_TRUE(d.apply(d.engine()->config()).ok());
    EXPECT_EQ(read_all(log_path).find("forged with public keys"), std::string::npos);
    FakeProvider::find("b")->set_anyone_can_wrap(true);
    ASSERT_TRUE(d.apply(d.engine()->config()).ok());
  }
  const std::string text = read_all(log_path);
  const auto at = text.find("the policy can be forged with public keys alone");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string line = text.substr(at, text.find('\n', at) - at);
  EXPECT_NE(line.find("a,b"), std::string::npos) << line;
  EXPECT_NE(line.find("threshold"), std::string::npos) << line;
}

}  // namespace
}  // namespace trousseau::daemon
