// The etcd client against a real etcd (Debian's etcd-server) with client
// certificates required: pages, one snapshot, and every way a client
// without the right certificate is refused. The attacker here is anyone
// on the network path: nothing may fall back to an unauthenticated or
// unencrypted connection.
#include <gtest/gtest.h>

#include <map>

#include "etcd/kv_client.hpp"
#include "support/child_process.hpp"
#include "support/etcd_server.hpp"
#include "support/test_pki.hpp"

namespace trousseau::etcd {
namespace {

using testkit::EtcdServer;
using testkit::read_tls;

std::map<std::string, std::string> read_all(KvClient& client, std::string_view prefix,
                                            ScanStats* stats = nullptr) {
  std::map<std::string, std::string> out;
  auto s = client.scan(
      prefix, [&](std::string_view key, ByteView value) { out.emplace(key, as_chars(value)); });
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  if (stats && s.ok()) *stats = s.value();
  return out;
}

TEST(EtcdPrefix, TheRangeEndIsThePrefixPlusOne) {
  EXPECT_EQ(prefix_range_end("/registry/secrets/"), "/registry/secrets0");
  EXPECT_EQ(prefix_range_end("a\xff"), "b");
  EXPECT_EQ(prefix_range_end("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(EtcdKvClient, ScansOnlyThePrefixInKeyOrderOnePageAtATime) {
  EtcdServer etcd;
  for (const char* k :
       {"/registry/secrets/b", "/registry/secrets/a", "/registry/secrets/c", "/registry/secrets/d",
        "/registry/secrets/e", "/registry/secretsX", "/registry/configmaps/a"}) {
    etcd.put(k, std::string("value of ") + k);
  }
  auto client = etcd.client_with_certificate({.page_size = 2});
  ASSERT_TRUE(client);
  std::vector<std::string> keys;
  auto stats = client->scan("/registry/secrets/", [&](std::string_view key, ByteView value) {
    keys.emplace_back(key);
    EXPECT_EQ(as_chars(value), "value of " + std::string(key));
  });
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(keys, (std::vector<std::string>{"/registry/secrets/a", "/registry/secrets/b",
                                            "/registry/secrets/c", "/registry/secrets/d",
                                            "/registry/secrets/e"}));
  EXPECT_EQ(stats->pages, 3u);
  EXPECT_EQ(stats->largest_page, 2u);
  EXPECT_EQ(stats->keys, 5u);
}

TEST(EtcdKvClient, AScanIsOneSnapshotWhileValuesChange) {
  EtcdServer etcd;
  for (const char* k : {"/p/1", "/p/2", "/p/3"}) etcd.put(k, "old");
  auto client = etcd.client_with_certificate({.page_size = 1});
  ASSERT_TRUE(client);
  std::map<std::string, std::string> seen;
  auto stats = client->scan("/p/", [&](std::string_view key, ByteView value) {
    if (seen.empty()) {  // after the first page: rewrite and add keys ahead of the scan
      etcd.put("/p/2", "new");
      etcd.put("/p/25", "added");
    }
    seen.emplace(key, as_chars(value));
  });
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(seen, (std::map<std::string, std::string>{
                      {"/p/1", "old"}, {"/p/2", "old"}, {"/p/3", "old"}}));
  EXPECT_EQ(read_all(*client, "/p/").at("/p/2"), "new");
}

TEST(EtcdKvClient, ASnapshotCompactedDuringTheScanStopsItInsteadOfSkippingKeys) {
  EtcdServer etcd;
  for (const char* k : {"/p/1", "/p/2", "/p/3"}) etcd.put(k, "v");
  auto client = etcd.client_with_certificate({.page_size = 1});
  ASSERT_TRUE(client);
  std::vector<std::string> seen;
  auto stats = client->scan("/p/", [&](std::string_view key, ByteView) {
    if (seen.empty()) {  // after the first page, compact past the scan's revision
      etcd.put("/p/2", "rewritten");
      ScanStats now;
      read_all(*client, "/p/", &now);
      const Error e = client->compact(now.revision);
      EXPECT_TRUE(e.ok()) << e.message();
    }
    seen.emplace_back(key);
  });
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.error().message().find("compacted"), std::string::npos)
      << stats.error().message();
  EXPECT_EQ(seen, std::vector<std::string>{"/p/1"});
}

TEST(EtcdKvClient, AClientWithoutACertificateIsRefused) {
  EtcdServer etcd;
  etcd.put("/registry/secrets/a", "v");
  auto client = KvClient::create({etcd.endpoint()}, read_tls(etcd.ca()), {});
  ASSERT_TRUE(client.ok()) << client.error().message();
  bool visited = false;
  auto stats = client.value()->scan("/registry/", [&](auto, auto) { visited = true; });
  ASSERT_FALSE(stats.ok());
  EXPECT_FALSE(visited);
  EXPECT_NE(stats.error().message().find(etcd.endpoint()), std::string::npos);
}

TEST(EtcdKvClient, AClientCertificateOfAnotherCaIsRefused) {
  EtcdServer etcd;
  etcd.put("/registry/secrets/a", "v");
  const std::string other = etcd.dir() + "/other-ca";
  testkit::make_test_pki(other, {"DNS:localhost"});
  const auto intruder = testkit::make_test_client_cert(other, "intruder");
  auto client =
      KvClient::create({etcd.endpoint()}, read_tls(etcd.ca(), intruder.cert, intruder.key), {});
  ASSERT_TRUE(client.ok());
  bool visited = false;
  EXPECT_FALSE(client.value()->scan("/registry/", [&](auto, auto) { visited = true; }).ok());
  EXPECT_FALSE(visited);
}

TEST(EtcdKvClient, AServerOutsideTheGivenCaIsNotTrusted) {
  EtcdServer etcd;
  const std::string other = etcd.dir() + "/other-ca";
  const auto pki = testkit::make_test_pki(other, {"DNS:localhost"});
  auto client = KvClient::create({etcd.endpoint()},
                                 read_tls(pki.ca_cert, etcd.client().cert, etcd.client().key), {});
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE(client.value()->scan("/", [](auto, auto) {}).ok());
}

TEST(EtcdKvClient, OnlyHttpsEndpointsAreAccepted) {
  const TlsCredentials tls{"ca", "cert", "key"};
  for (const char* e :
       {"http://127.0.0.1:2379", "127.0.0.1:2379", "unix:///run/etcd.sock", "https://"}) {
    auto client = KvClient::create({e}, tls, {});
    ASSERT_FALSE(client.ok()) << e;
    EXPECT_EQ(client.error().code(), Code::invalid_argument);
  }
  EXPECT_FALSE(KvClient::create({"https://127.0.0.1:2379"}, {"", "", ""}, {}).ok());
  EXPECT_FALSE(KvClient::create({"https://127.0.0.1:2379"}, {"ca", "cert", ""}, {}).ok());
}

TEST(EtcdKvClient, AnUnreachableMemberIsSkipped) {
  EtcdServer etcd;
  etcd.put("/registry/secrets/a", "v");
  const std::string dead = "https://127.0.0.1:" + std::to_string(testkit::free_loopback_port());
  auto client = KvClient::create({dead, etcd.endpoint()},
                                 read_tls(etcd.ca(), etcd.client().cert, etcd.client().key), {});
  ASSERT_TRUE(client.ok());
  ScanStats stats;
  EXPECT_EQ(read_all(*client.value(), "/registry/", &stats).size(), 1u);
  EXPECT_EQ(stats.endpoint, etcd.endpoint());
}

}  // namespace
}  // namespace trousseau::etcd
