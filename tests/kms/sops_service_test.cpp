// SOPS's key service on its own socket, called as SOPS calls it: a gRPC
// client generated from proto/keyservice.proto, over the unix socket.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/bytes.hpp"
#include "keyservice.grpc.pb.h"
#include "kms/client.hpp"
#include "kms/sops_service.hpp"
#include "support/fake_provider.hpp"
#include "support/running_server.hpp"

namespace trousseau::kms {
namespace {

constexpr const char* kTwoOfTwo = R"(
providers:
  - {name: sops-a, type: fake}
  - {name: sops-b, type: fake}
policy: {threshold: 2, slots: [{providers: [sops-a]}, {providers: [sops-b]}]}
health: {failure_threshold: 100}
sops_keyservice: {socket: "{dir}/sops.sock"}
)";

std::string data_key() {
  Bytes b(32);
  random_fill(b);
  return std::string(as_chars(b));
}

class SopsKeyService : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.started()); }

  ::Key policy_key(const std::string& arn = std::string(kSopsPolicyArn)) {
    ::Key key;
    key.mutable_kms_key()->set_arn(arn);
    return key;
  }
  grpc::Status encrypt(const ::Key& key, const std::string& plain, std::string& ciphertext) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ::EncryptRequest req;
    *req.mutable_key() = key;
    req.set_plaintext(plain);
    ::EncryptResponse resp;
    grpc::Status s = stub->Encrypt(&ctx, req, &resp);
    ciphertext = resp.ciphertext();
    return s;
  }
  grpc::Status decrypt(const ::Key& key, const std::string& ciphertext, std::string& plain) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ::DecryptRequest req;
    *req.mutable_key() = key;
    req.set_ciphertext(ciphertext);
    ::DecryptResponse resp;
    grpc::Status s = stub->Decrypt(&ctx, req, &resp);
    plain = resp.plaintext();
    return s;
  }

  testkit::RunningServer server{kTwoOfTwo};
  std::string sops_socket = server.dir().file("sops.sock");
  std::unique_ptr<::KeyService::Stub> stub = ::KeyService::NewStub(
      grpc::CreateChannel("unix:" + sops_socket, grpc::InsecureChannelCredentials()));
};

TEST_F(SopsKeyService, ADataKeyRoundTripsAndItsCiphertextIsAscii) {
  const std::string key = data_key();
  std::string ciphertext, plain;
  ASSERT_TRUE(encrypt(policy_key(), key, ciphertext).ok());
  for (char c : ciphertext) {
    ASSERT_TRUE(c > 32 && c < 127) << "SOPS keeps the ciphertext as a string";
  }
  Bytes envelope;
  EXPECT_TRUE(base64_decode(ciphertext, envelope)) << "standard base64";
  grpc::Status s = decrypt(policy_key(), ciphertext, plain);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(plain, key);
}

TEST_F(SopsKeyService, TheSocketIsPrivateAndServesOnlyTheKeyService) {
  struct ::stat st {};
  ASSERT_EQ(::stat(sops_socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Client kube_client(sops_socket, {.timeout = std::chrono::milliseconds(5000)});
  v2::StatusResponse status;
  EXPECT_EQ(kube_client.status(status).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(SopsKeyService, EveryOtherKeyTypeOrArnIsRefusedByName) {
  std::string ciphertext;
  ::Key age;
  age.mutable_age_key()->set_recipient("age1xyz");
  grpc::Status s = encrypt(age, data_key(), ciphertext);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("not age_key"), std::string::npos) << s.error_message();
  ::Key pgp;
  pgp.mutable_pgp_key()->set_fingerprint("ABCD");
  s = encrypt(pgp, data_key(), ciphertext);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("pgp_key"), std::string::npos) << s.error_message();
  s = encrypt(::Key{}, data_key(), ciphertext);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = encrypt(policy_key("arn:aws:kms:eu-west-1:111122223333:key/x"), data_key(), ciphertext);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("names no Trousseau policy"), std::string::npos) << s.error_message();
  ::Key with_context = policy_key();
  (*with_context.mutable_kms_key()->mutable_context())["file"] = "a.yaml";
  s = encrypt(with_context, data_key(), ciphertext);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testkit::FakeProvider::find("sops-a")->wraps(), 0) << "refused before any provider call";
}

TEST_F(SopsKeyService, ATamperedCiphertextIsRefusedAndNeverAnswersAPlaintext) {
  const std::string key = data_key();
  std::string ciphertext, plain;
  ASSERT_TRUE(encrypt(policy_key(), key, ciphertext).ok());
  Bytes envelope;
  ASSERT_TRUE(base64_decode(ciphertext, envelope));
  for (std::size_t i : {std::size_t{8}, envelope.size() / 2, envelope.size() - 1}) {
    Bytes bad = envelope;
    bad[i] ^= 0x01;
    grpc::Status s = decrypt(policy_key(), base64_encode(bad), plain);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << i << ": " << s.error_message();
    EXPECT_TRUE(plain.empty());
  }
  grpc::Status s = decrypt(policy_key(), "not base64!", plain);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SopsKeyService, AnEnvelopeOfTheKubernetesSocketDoesNotOpenHere) {
  // What kube-apiserver keeps in etcd: a DEK seed sealed through kms.sock.
  Client kube(server.socket());
  v2::EncryptResponse sealed;
  ASSERT_TRUE(kube.encrypt(data_key(), sealed).ok());
  ASSERT_TRUE(sealed.annotations().empty());
  std::string plain;
  grpc::Status s = decrypt(policy_key(), base64_encode(as_bytes(sealed.ciphertext())), plain);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("not sealed by the SOPS key service"), std::string::npos)
      << s.error_message();
  EXPECT_TRUE(plain.empty());
}

TEST_F(SopsKeyService, WithTheQuorumDownTheAnswerIsUnavailableAndNamesTheProviders) {
  const std::string key = data_key();
  std::string ciphertext, plain;
  ASSERT_TRUE(encrypt(policy_key(), key, ciphertext).ok());
  for (const char* name : {"sops-a", "sops-b"}) {
    testkit::FakeProvider::find(name)->script({.fail = Code::unavailable});
  }
  grpc::Status s = decrypt(policy_key(), ciphertext, plain);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("sops-a"), std::string::npos) << s.error_message();
  EXPECT_TRUE(plain.empty());
  s = encrypt(policy_key(), key, ciphertext);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("sops-b"), std::string::npos) << s.error_message();
}

}  // namespace
}  // namespace trousseau::kms
