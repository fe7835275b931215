// Plays kube-apiserver against a real Trousseau server over its unix socket.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include <boost/asio/io_context.hpp>

#include "envelope/aead.hpp"
#include "envelope/format.hpp"
#include "kms/client.hpp"
#include "providers/keyfile/keyfile_provider.hpp"
#include "support/call_options.hpp"
#include "kms/kubernetes_limits.hpp"
#include "support/fake_provider.hpp"
#include "support/running_server.hpp"
#include "support/wait.hpp"

namespace trousseau::kms {
namespace {

using testkit::FakeProvider;
using testkit::RunningServer;

constexpr const char* kTwoOfThreeKeyfiles = R"(
providers:
  - {name: key-a, type: keyfile, path: "{dir}/keys/a.key"}
  - {name: key-b, type: keyfile, path: "{dir}/keys/b.key"}
  - {name: key-c, type: keyfile, path: "{dir}/keys/c.key"}
policy:
  threshold: 2
  min_encrypt_slots: 2
  slots:
    - providers: [key-a]
    - providers: [key-b]
    - providers: [key-c]
health:
  failure_threshold: 100
)";

std::string random_seed() {
  std::string s(32, '\0');
  random_fill({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
  return s;
}

std::map<std::string, std::string> as_map(const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

class Conformance : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.started()); }

  /// Encrypts a fresh seed and checks the response the way apiserver does.
  v2::EncryptResponse encrypt_ok(const std::string& seed) {
    v2::EncryptResponse resp;
    grpc::Status st = client.encrypt(seed, resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(check_v2_encrypt_response(resp.ciphertext(), resp.key_id(), as_map(resp.annotations())).ok());
    return resp;
  }

  grpc::StatusCode decrypt_code(const std::string& ct,
                                const google::protobuf::Map<std::string, std::string>& ann,
                                const std::string& seed) {
    v2::DecryptResponse out;
    grpc::Status st = client.decrypt(ct, "key", ann, out);
    // Whatever happens, never a wrong plaintext.
    if (st.ok()) {
      EXPECT_EQ(out.plaintext(), seed);
    }
    return st.error_code();
  }

  RunningServer server{kTwoOfThreeKeyfiles};
  Client client{server.socket()};
};

TEST_F(Conformance, StatusReportsV2HealthyAndAValidKeyId) {
  v2::StatusResponse st;
  ASSERT_TRUE(client.status(st).ok());
  EXPECT_EQ(st.version(), "v2");
  EXPECT_EQ(st.healthz(), "ok");
  EXPECT_FALSE(st.key_id().empty());
  EXPECT_LE(st.key_id().size(), kMaxKeyIdSize);
}

TEST_F(Conformance, SocketIsPrivate) {
  struct ::stat s {};
  ASSERT_EQ(::stat(server.socket().c_str(), &s), 0);
  EXPECT_TRUE(S_ISSOCK(s.st_mode));
  EXPECT_EQ(s.st_mode & 0777, 0600u);
}

TEST_F(Conformance, EncryptPassesApiserverChecksAndMatchesStatusKeyId) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  v2::StatusResponse st;
  ASSERT_TRUE(client.status(st).ok());
  EXPECT_EQ(resp.key_id(), st.key_id());
  EXPECT_EQ(resp.ciphertext().find(seed), std::string::npos);
}

TEST_F(Conformance, DecryptReturnsTheSeed) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  v2::DecryptResponse out;
  grpc::Status st = client.decrypt(resp.ciphertext(), resp.key_id(), resp.annotations(), out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.plaintext(), seed);
}

TEST_F(Conformance, V1beta1VersionAndRoundTrip) {
  v1beta1::VersionResponse v;
  ASSERT_TRUE(client.v1_version(v).ok());
  EXPECT_EQ(v.version(), "v1beta1");
  EXPECT_EQ(v.runtime_name(), "trousseau");
  EXPECT_EQ(v.runtime_version(), TROUSSEAU_VERSION);
  const std::string dek = random_seed();
  v1beta1::EncryptResponse enc;
  ASSERT_TRUE(client.v1_encrypt(dek, enc).ok());
  v1beta1::DecryptResponse dec;
  grpc::Status st = client.v1_decrypt(enc.cipher(), dec);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(dec.plain(), dek);
}

// kube-apiserver sends "v1beta1"; any other version is refused, on both
// methods, and the server goes on.
TEST_F(Conformance, AWrongV1beta1VersionIsInvalidArgumentNamingIt) {
  auto stub = v1beta1::KeyManagementService::NewStub(
      grpc::CreateChannel("unix://" + server.socket(), grpc::InsecureChannelCredentials()));
  v1beta1::EncryptRequest enc_req;
  enc_req.set_version("v2");
  enc_req.set_plain(random_seed());
  v1beta1::EncryptResponse enc;
  grpc::ClientContext enc_ctx;
  grpc::Status st = stub->Encrypt(&enc_ctx, enc_req, &enc);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("unsupported version \"v2\""), std::string::npos) << st.error_message();
  EXPECT_TRUE(enc.cipher().empty());

  v1beta1::EncryptResponse good;
  ASSERT_TRUE(client.v1_encrypt(random_seed(), good).ok());
  v1beta1::DecryptRequest dec_req;
  dec_req.set_version("v1");
  dec_req.set_cipher(good.cipher());
  v1beta1::DecryptResponse dec;
  grpc::ClientContext dec_ctx;
  st = stub->Decrypt(&dec_ctx, dec_req, &dec);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("unsupported version \"v1\""), std::string::npos) << st.error_message();
  EXPECT_TRUE(dec.plain().empty());
  v1beta1::VersionResponse v;
  EXPECT_TRUE(client.v1_version(v).ok());
}

// An envelope whose providers were taken out of the configuration: with
// too few left, Decrypt answers UNAVAILABLE naming each missing one as
// "not in the current configuration", and nothing is sent to a KMS the
// operator removed.
TEST_F(Conformance, DecryptNeedingProvidersNoLongerConfiguredIsUnavailableNamingThem) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  config::Diagnostics diag;
  auto next = config::load_string(testkit::complete_config(R"(
providers:
  - {name: key-a, type: keyfile, path: "{dir}/keys/a.key"}
  - {name: key-d, type: keyfile, path: "{dir}/keys/d.key"}
policy:
  threshold: 2
  slots:
    - providers: [key-a]
    - providers: [key-d]
)", server.dir()), diag);
  ASSERT_TRUE(next.has_value()) << (diag.errors().empty() ? "" : diag.errors()[0]);
  next->telemetry.listen = "127.0.0.1:0";
  ASSERT_TRUE(server.server().apply(*next).ok());
  v2::DecryptResponse out;
  grpc::Status st = client.decrypt(resp.ciphertext(), resp.key_id(), resp.annotations(), out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  for (const char* name : {"key-b", "key-c"}) {
    EXPECT_NE(st.error_message().find(std::string("[") + name + "] not in the current configuration"),
              std::string::npos)
        << st.error_message();
  }
  EXPECT_TRUE(out.plaintext().empty());
}

TEST_F(Conformance, EmptyAndOversizedPlaintextsAreInvalidArgument) {
  v2::EncryptResponse resp;
  EXPECT_EQ(client.encrypt("", resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(client.encrypt(std::string(64 * 1024 + 1, 'x'), resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1beta1::EncryptResponse v1;
  EXPECT_EQ(client.v1_encrypt("", v1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(client.v1_encrypt(std::string(64 * 1024 + 1, 'x'), v1).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // v1beta1 has no size limit on the ciphertext: 64 KiB round-trips.
  ASSERT_TRUE(client.v1_encrypt(std::string(64 * 1024, 'x'), v1).ok());
  v1beta1::DecryptResponse back;
  ASSERT_TRUE(client.v1_decrypt(v1.cipher(), back).ok());
  EXPECT_EQ(back.plain(), std::string(64 * 1024, 'x'));
}

// gRPC itself refuses a request over kMaxRequestBytes, before any of it
// is ours to parse; the server goes on serving.
TEST_F(Conformance, AnOversizedMessageIsResourceExhaustedAndTheServerGoesOn) {
  const std::string huge(kMaxRequestBytes + 1, 'x');
  v2::EncryptResponse enc;
  EXPECT_EQ(client.encrypt(huge, enc).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  v2::DecryptResponse dec;
  google::protobuf::Map<std::string, std::string> none;
  EXPECT_EQ(client.decrypt(huge, "key", none, dec).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  v1beta1::DecryptResponse v1;
  EXPECT_EQ(client.v1_decrypt(huge, v1).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  const std::string seed = random_seed();
  const v2::EncryptResponse fine = encrypt_ok(seed);
  EXPECT_EQ(decrypt_code(fine.ciphertext(), fine.annotations(), seed), grpc::StatusCode::OK);
}

// The key_id of a Decrypt is what apiserver stored with the object: after
// a rotation it names an earlier key_id, so it is a label (logged), never
// a reason to refuse. The envelope says which keys open it.
TEST_F(Conformance, AnUnknownKeyIdStillDecryptsItsEnvelope) {
  const std::string seed = random_seed();
  v2::EncryptResponse enc = encrypt_ok(seed);
  for (const std::string& key_id : {std::string("trousseau-0000000000000000000000000000000000000000"),
                                   std::string(), std::string(4096, 'k')}) {
    v2::DecryptResponse out;
    grpc::Status st = client.decrypt(enc.ciphertext(), key_id, enc.annotations(), out);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(out.plaintext(), seed);
  }
}

// apiserver stores exactly the annotations Encrypt returned. A share
// annotation of ours that the envelope does not reference was added since:
// refused, and named. Another domain's annotation is not ours to judge.
TEST_F(Conformance, UnreferencedShareAnnotationsAreInvalidArgumentAndOthersIgnored) {
  const std::string seed = random_seed();
  v2::EncryptResponse enc = encrypt_ok(seed);
  auto extra = enc.annotations();
  extra["99.shares.trousseau.io"] = "value";
  v2::DecryptResponse out;
  grpc::Status st = client.decrypt(enc.ciphertext(), enc.key_id(), extra, out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find(
                "annotation \"99.shares.trousseau.io\" is not one of this envelope's"),
            std::string::npos)
      << st.error_message();
  EXPECT_TRUE(out.plaintext().empty());
  auto foreign = enc.annotations();
  foreign["kms.example.com"] = "value";
  EXPECT_EQ(decrypt_code(enc.ciphertext(), foreign, seed), grpc::StatusCode::OK);
}

TEST_F(Conformance, EmptyAndGarbageCiphertextsAreInvalidArgument) {
  const std::string seed = random_seed();
  google::protobuf::Map<std::string, std::string> none;
  EXPECT_EQ(decrypt_code("", none, seed), grpc::StatusCode::INVALID_ARGUMENT);
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::string garbage(1 + rng() % 600, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    if (i % 2 == 0) garbage.replace(0, 4, "TRS\x01", 4);  // get past the magic
    EXPECT_EQ(decrypt_code(garbage, none, seed), grpc::StatusCode::INVALID_ARGUMENT) << i;
  }
}

TEST_F(Conformance, TruncatedCiphertextsAreInvalidArgument) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  const std::string& ct = resp.ciphertext();
  for (std::size_t n = 0; n < ct.size(); n += 3) {
    EXPECT_EQ(decrypt_code(ct.substr(0, n), resp.annotations(), seed),
              grpc::StatusCode::INVALID_ARGUMENT) << "length " << n;
  }
}

TEST_F(Conformance, BitFlippedCiphertextsAreInvalidArgument) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  for (std::size_t i = 0; i < resp.ciphertext().size(); ++i) {
    std::string ct = resp.ciphertext();
    ct[i] = static_cast<char>(ct[i] ^ (1 << (i % 8)));
    EXPECT_EQ(decrypt_code(ct, resp.annotations(), seed), grpc::StatusCode::INVALID_ARGUMENT)
        << "byte " << i;
  }
}

TEST_F(Conformance, ReorderedCiphertextsAreInvalidArgument) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  const std::string& ct = resp.ciphertext();
  std::string reversed(ct.rbegin(), ct.rend());
  EXPECT_EQ(decrypt_code(reversed, resp.annotations(), seed), grpc::StatusCode::INVALID_ARGUMENT);
  const std::size_t half = ct.size() / 2;
  EXPECT_EQ(decrypt_code(ct.substr(half) + ct.substr(0, half), resp.annotations(), seed),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Swap two 16-byte blocks inside the body.
  std::string swapped = ct;
  std::swap_ranges(swapped.begin() + 8, swapped.begin() + 24, swapped.begin() + 40);
  EXPECT_EQ(decrypt_code(swapped, resp.annotations(), seed), grpc::StatusCode::INVALID_ARGUMENT);
}

/// The attack of DESIGN §3.8, over the socket: someone who can write etcd
/// and get one KMS (here: read key-a's file) to wrap a share builds a k = 1
/// envelope around a K' of their choosing. Under the 2-of-3 policy it must
/// be refused, through both API versions.
TEST_F(Conformance, ForgedLowThresholdEnvelopeFromOneProviderIsRefused) {
  boost::asio::io_context io;
  providers::keyfile::KeyfileProvider key_a("key-a", server.dir().file("keys/a.key"),
                                            io.get_executor());
  SecretBytes chosen_key = SecretBytes::random(32);
  envelope::Envelope env;
  env.threshold = 1;
  random_fill(env.nonce);
  const Bytes context = envelope::share_context(env.nonce, 1, 1);
  providers::WrapResult wrapped;
  key_a.async_wrap(::trousseau::testkit::within(), context, chosen_key.view(),
                   [&](Error e, providers::WrapResult w) {
                     ASSERT_TRUE(e.ok()) << e.message();
                     wrapped = std::move(w);
                   });
  io.run();
  env.slots.push_back({1, {{"key-a", wrapped.key_version, wrapped.wrapped}}});
  env.header_bytes = envelope::encode_header(env);
  const std::string chosen = "attacker-chosen plaintext, 32 b.";
  env.sealed = aead::seal(chosen_key.view(), env.nonce, envelope::additional_data(env),
                          as_bytes(chosen))
                   .value();
  auto encoded = envelope::encode(env, {}).value();
  const std::string ct(as_chars(encoded.ciphertext));

  v2::DecryptResponse out;
  grpc::Status st = client.decrypt(ct, "key", {}, out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("threshold 1"), std::string::npos) << st.error_message();
  EXPECT_TRUE(out.plaintext().empty());

  v1beta1::DecryptResponse out1;
  grpc::Status st1 = client.v1_decrypt(ct, out1);
  EXPECT_EQ(st1.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st1.error_message();
  EXPECT_TRUE(out1.plain().empty());
}

TEST_F(Conformance, RemovingOneKeyFileOfThreeKeepsDecryptWorking) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  std::filesystem::remove(server.dir().file("keys/a.key"));
  v2::DecryptResponse out;
  grpc::Status st = client.decrypt(resp.ciphertext(), resp.key_id(), resp.annotations(), out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.plaintext(), seed);
}

TEST_F(Conformance, RemovingTwoKeyFilesFailsUnavailableNamingThem) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp = encrypt_ok(seed);
  std::filesystem::remove(server.dir().file("keys/a.key"));
  std::filesystem::remove(server.dir().file("keys/c.key"));
  v2::DecryptResponse out;
  grpc::Status st;
  // The key files are watched: the removal counts once the watch sees it.
  ASSERT_TRUE(testkit::wait_until([&] {
    out.Clear();
    st = client.decrypt(resp.ciphertext(), resp.key_id(), resp.annotations(), out);
    return !st.ok();
  }));
  ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_NE(st.error_message().find("key-a"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("key-c"), std::string::npos) << st.error_message();
  EXPECT_TRUE(out.plaintext().empty());
}

// --- Eight slots whose wrapped shares are 512 bytes: the v2 worst case. ---

constexpr const char* kEightWideSlots = R"(
providers:
  - {name: wide-0, type: fake, wrap_padding: 452}
  - {name: wide-1, type: fake, wrap_padding: 452}
  - {name: wide-2, type: fake, wrap_padding: 452}
  - {name: wide-3, type: fake, wrap_padding: 452}
  - {name: wide-4, type: fake, wrap_padding: 452}
  - {name: wide-5, type: fake, wrap_padding: 452}
  - {name: wide-6, type: fake, wrap_padding: 452}
  - {name: wide-7, type: fake, wrap_padding: 452}
policy:
  threshold: 5
  slots:
    - providers: [wide-0]
    - providers: [wide-1]
    - providers: [wide-2]
    - providers: [wide-3]
    - providers: [wide-4]
    - providers: [wide-5]
    - providers: [wide-6]
    - providers: [wide-7]
)";

class WorstCase : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.started()); }
  RunningServer server{kEightWideSlots};
  Client client{server.socket()};
};

TEST_F(WorstCase, TheApiserverUidReachesEveryProviderCutTo64Bytes) {
  const std::string uid = "uid-" + std::string(300, 'u');  // untrusted: any length
  v2::EncryptResponse resp;
  grpc::Status st = client.encrypt(random_seed(), resp, uid);
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (int i = 0; i < 8; ++i) {
    FakeProvider* fake = FakeProvider::find("wide-" + std::to_string(i));
    ASSERT_NE(fake, nullptr);
    std::vector<std::string> ids = fake->request_ids();
    EXPECT_NE(std::find(ids.begin(), ids.end(), uid.substr(0, 64)), ids.end()) << i;
    for (const std::string& id : ids) EXPECT_LE(id.size(), 64u);
  }
}

TEST_F(WorstCase, EightSlotsOf512BytesUseAnnotationsWithinLimits) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp;
  grpc::Status st = client.encrypt(seed, resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(check_v2_encrypt_response(resp.ciphertext(), resp.key_id(), as_map(resp.annotations())).ok());
  EXPECT_FALSE(resp.annotations().empty());
  for (const auto& [k, v] : resp.annotations()) EXPECT_EQ(v.size(), 512u) << k;
  v2::DecryptResponse out;
  st = client.decrypt(resp.ciphertext(), resp.key_id(), resp.annotations(), out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.plaintext(), seed);
}

TEST_F(WorstCase, MissingAlteredOrSwappedAnnotationsAreInvalidArgument) {
  const std::string seed = random_seed();
  v2::EncryptResponse resp;
  ASSERT_TRUE(client.encrypt(seed, resp).ok());
  ASSERT_GE(resp.annotations().size(), 2u);
  auto code = [&](const google::protobuf::Map<std::string, std::string>& ann) {
    v2::DecryptResponse out;
    grpc::Status st = client.decrypt(resp.ciphertext(), resp.key_id(), ann, out);
    if (st.ok()) {
      EXPECT_EQ(out.plaintext(), seed);
    }
    return st.error_code();
  };
  auto missing = resp.annotations();
  missing.erase(missing.begin());
  EXPECT_EQ(code(missing), grpc::StatusCode::INVALID_ARGUMENT);
  auto altered = resp.annotations();
  altered.begin()->second[100] ^= 0x01;
  EXPECT_EQ(code(altered), grpc::StatusCode::INVALID_ARGUMENT);
  auto truncated = resp.annotations();
  truncated.begin()->second.resize(10);
  EXPECT_EQ(code(truncated), grpc::StatusCode::INVALID_ARGUMENT);
  auto swapped = resp.annotations();
  auto first = swapped.begin();
  auto second = std::next(first);
  std::swap(first->second, second->second);
  EXPECT_EQ(code(swapped), grpc::StatusCode::INVALID_ARGUMENT);
  google::protobuf::Map<std::string, std::string> none;
  EXPECT_EQ(code(none), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace trousseau::kms
