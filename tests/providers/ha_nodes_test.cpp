// An HA control plane: three `trousseau serve` processes stand for three
// nodes, each with its own socket and state directory, the same policy and
// the same keys (one SoftHSM2 token, one AWS KMS key in moto, one key file).
// Each node reaches moto through its own loopback proxy, so that one node
// alone can be cut off from it. The test plays kube-apiserver: it stores
// what Encrypt answers with its key_id, and rewrites what is stale.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "envelope/format.hpp"
#include "kms/client.hpp"
#include "providers/awskms/moto.hpp"
#include "providers/keyfile/keyfile_provider.hpp"
#include "providers/pkcs11/softhsm.hpp"
#include "support/serve_process.hpp"
#include "support/tcp_proxy.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "support/wrapped_by.hpp"

namespace trousseau {
namespace {

using kms::Client;
using testkit::wrapped_by;
using testkit::MotoServer;
using testkit::ServeProcess;
using testkit::SoftHsm;
using testkit::TcpProxy;

constexpr int kNodes = 3;
const std::set<std::string> kEveryProvider{"hsm", "aws", "local"};

/// One node's configuration: only the way to moto differs between nodes.
std::string node_config(const std::string& aws_endpoint, const std::string& arn,
                        const std::string& key_file) {
  return "providers:\n"
         "  - " + SoftHsm::shared().provider_yaml("hsm") + "\n"
         "  - {name: aws, type: awskms, region: us-east-1, key_id: " + arn +
         ", endpoint: " + aws_endpoint + ", cluster_name: ha, timeout: 500ms}\n"
         "  - {name: local, type: keyfile, path: " + key_file + ", create_if_missing: false}\n"
         "policy:\n"
         "  threshold: 2\n"
         "  min_encrypt_slots: 2\n"
         "  slots: [{providers: [hsm]}, {providers: [aws]}, {providers: [local]}]\n"
         "health:\n"
         "  probe_interval: 300ms\n"
         "  unhealthy_probe_interval: 200ms\n"
         "  failure_threshold: 1\n"
         "  breaker_backoff: 200ms\n";
}

/// What kube-apiserver keeps in etcd for one object (KMS v2).
struct Stored {
  std::string plaintext;
  v2::EncryptResponse envelope;  ///< ciphertext, key_id, annotations
  int written_by = -1;
};

class HaNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    arn = moto.prepare_key();
    ASSERT_FALSE(arn.empty());
    // The key file is made once and shared, as docs/operations.md asks.
    key_file = shared.file("local.key");
    ASSERT_TRUE(providers::keyfile::KeyfileProvider::create_if_missing(key_file).ok());
    for (int i = 0; i < kNodes; ++i) {
      proxies.push_back(std::make_unique<TcpProxy>(moto.port()));
      nodes.push_back(
          std::make_unique<ServeProcess>(node_config(proxies[i]->endpoint(), arn, key_file)));
      ASSERT_TRUE(nodes[i]->started());
      clients.push_back(std::make_unique<Client>(nodes[i]->socket()));
    }
  }

  std::string key_id(int node) {
    v2::StatusResponse s;
    return clients[node]->status(s).ok() ? s.key_id() : std::string();
  }
  bool healthy(int node) {
    v2::StatusResponse s;
    return clients[node]->status(s).ok() && s.healthz() == "ok";
  }
  /// Every node healthy and reporting one key_id: a state to wait for.
  bool agreed() {
    const std::string first = key_id(0);
    for (int i = 0; i < kNodes; ++i) {
      if (!healthy(i) || key_id(i) != first) return false;
    }
    return !first.empty();
  }

  void write(int node, const std::string& plaintext) {
    Stored s{plaintext, {}, node};
    const grpc::Status st = clients[node]->encrypt(plaintext, s.envelope);
    ASSERT_TRUE(st.ok()) << "node " << node << ": " << st.error_message();
    etcd.push_back(std::move(s));
  }
  /// Every stored object opens through every node.
  void expect_every_node_reads_everything() {
    for (const Stored& s : etcd) {
      for (int i = 0; i < kNodes; ++i) {
        v2::DecryptResponse out;
        const grpc::Status st = clients[i]->decrypt(s.envelope.ciphertext(), s.envelope.key_id(),
                                                    s.envelope.annotations(), out);
        ASSERT_TRUE(st.ok()) << "node " << i << " reading node " << s.written_by
                             << "'s write: " << st.error_message();
        EXPECT_EQ(out.plaintext(), s.plaintext);
      }
    }
  }

  MotoServer moto;
  std::string arn;
  testkit::TempDir shared;
  std::string key_file;
  std::vector<std::unique_ptr<TcpProxy>> proxies;
  std::vector<std::unique_ptr<ServeProcess>> nodes;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Stored> etcd;
};

TEST_F(HaNodes, AgreeOnKeyIdReadEachOtherAndHealAOneNodeOutageWithoutDivergence) {
  ASSERT_TRUE(testkit::wait_until([&] { return agreed(); }))
      << key_id(0) << " " << key_id(1) << " " << key_id(2);
  const std::string steady = key_id(0);

  // Steady state: every write is complete and under the one key_id, and
  // any node reads what any other wrote.
  for (int i = 0; i < kNodes; ++i) write(i, std::string(32, static_cast<char>('a' + i)));
  for (const Stored& s : etcd) {
    EXPECT_EQ(s.envelope.key_id(), steady);
    EXPECT_EQ(wrapped_by(s.envelope), kEveryProvider);
  }
  expect_every_node_reads_everything();

  // Node 0 alone loses moto. Its writes are degraded (2 of 3 slots) and say
  // so in their key_id; the other nodes' writes are complete and do not
  // move.
  proxies[0]->cut();
  write(0, "written by node 0 without aws");
  const Stored degraded = etcd.back();
  EXPECT_EQ(wrapped_by(degraded.envelope), (std::set<std::string>{"hsm", "local"}));
  EXPECT_NE(degraded.envelope.key_id(), steady);
  EXPECT_EQ(key_id(0), degraded.envelope.key_id()) << "Status must agree with the write";
  for (int i = 1; i < kNodes; ++i) {
    write(i, "written by node " + std::to_string(i) + " during node 0's outage");
    EXPECT_EQ(etcd.back().envelope.key_id(), steady);
    EXPECT_EQ(wrapped_by(etcd.back().envelope), kEveryProvider);
    EXPECT_EQ(key_id(i), steady);
  }
  // The cut node still reads everything (hsm and local make 2 of 3), and
  // the others read its degraded write.
  expect_every_node_reads_everything();

  // The cut ends: the three agree again on the key_id of complete writes.
  proxies[0]->restore();
  ASSERT_TRUE(testkit::wait_until([&] { return agreed() && key_id(0) == steady; }))
      << key_id(0) << " " << key_id(1) << " " << key_id(2);

  // kube-apiserver's repair: an object whose stored key_id differs from the
  // key_id its node reports now is stale, and rewritten on the next update.
  // Every node sees the degraded write as stale, so any of them repairs it.
  int rewritten = 0;
  for (std::size_t i = 0; i < etcd.size(); ++i) {
    Stored& s = etcd[i];
    const int node = static_cast<int>(i % kNodes);
    if (s.envelope.key_id() == key_id(node)) continue;
    v2::DecryptResponse plain;
    ASSERT_TRUE(clients[node]->decrypt(s.envelope.ciphertext(), s.envelope.key_id(),
                                       s.envelope.annotations(), plain).ok());
    v2::EncryptResponse fresh;
    const grpc::Status st = clients[node]->encrypt(plain.plaintext(), fresh);
    ASSERT_TRUE(st.ok()) << st.error_message();
    s.envelope = fresh;
    s.written_by = node;
    ++rewritten;
  }
  EXPECT_EQ(rewritten, 1) << "exactly the degraded write is stale";
  for (const Stored& s : etcd) {
    EXPECT_EQ(s.envelope.key_id(), steady);
    EXPECT_EQ(wrapped_by(s.envelope), kEveryProvider) << "a degraded envelope is left behind";
  }
  expect_every_node_reads_everything();
  EXPECT_GT(proxies[0]->accepted(), 0u);
  for (auto& node : nodes) EXPECT_EQ(node->stop(), 0) << node->log();
}

}  // namespace
}  // namespace trousseau
