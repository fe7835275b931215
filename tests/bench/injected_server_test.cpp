// Injected providers in a real server: every provider call of a v2 request
// is recorded under that request's uid, and the records reach their file
// when the server goes away, as at the end of `serve`.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "kms/client.hpp"
#include "support/running_server.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::bench::injected {
namespace {

using kms::Client;
using testkit::RunningServer;
using testkit::TempDir;

constexpr const char* kTwoOfThree = R"(
providers:
  - {name: kms-a, type: injected, delay: {distribution: constant, value: 1ms}, record: "{records}"}
  - {name: kms-b, type: injected, delay: {distribution: lognormal, median: 1ms, p99: 2ms}, seed: 1, record: "{records}"}
  - {name: kms-c, type: injected, delay: {distribution: constant, value: 2ms}, record: "{records}"}
policy:
  threshold: 2
  slots:
    - providers: [kms-a]
    - providers: [kms-b]
    - providers: [kms-c]
)";

TEST(InjectedServer, RecordsEveryCallOfARequestUnderItsUidWhenTheServerStops) {
  TempDir records;
  const std::string path = records.file("calls.tsv");
  std::optional<RunningServer> server(std::in_place,
                                      testkit::replace_all(kTwoOfThree, "{records}", path));
  ASSERT_TRUE(server->started());
  {
    Client client(server->socket());
    v2::EncryptResponse enc;
    grpc::Status st = client.encrypt(std::string(32, 'p'), enc, "uid-encrypt-1");
    ASSERT_TRUE(st.ok()) << st.error_message();
    v2::DecryptResponse dec;
    st = client.decrypt(enc.ciphertext(), enc.key_id(), enc.annotations(), dec, "uid-decrypt-1");
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(dec.plaintext(), std::string(32, 'p'));
  }
  server.reset();

  std::ifstream in(path);
  std::map<std::string, int> wraps, unwraps;  // by provider
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    std::vector<std::string> f;
    std::stringstream s(line);
    for (std::string field; std::getline(s, field, '\t');) f.push_back(field);
    ASSERT_EQ(f.size(), 6u) << line;
    if (f[2] == "wrap") {
      EXPECT_EQ(f[0], "uid-encrypt-1") << line;
      ++wraps[f[1]];
    } else if (f[2] == "unwrap") {
      EXPECT_EQ(f[0], "uid-decrypt-1") << line;
      ++unwraps[f[1]];
    } else {
      EXPECT_EQ(f[2], "probe") << line;
      EXPECT_EQ(f[0], "-") << line;
    }
    EXPECT_NE(f[4], "unfinished") << line;
  }
  EXPECT_GT(lines, 0);
  EXPECT_EQ(wraps, (std::map<std::string, int>{{"kms-a", 1}, {"kms-b", 1}, {"kms-c", 1}}));
  int asked = 0;
  for (const auto& [provider, n] : unwraps) asked += n;
  EXPECT_GE(asked, 2);  // the threshold
}

}  // namespace
}  // namespace trousseau::bench::injected
