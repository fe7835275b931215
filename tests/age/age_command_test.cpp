// The plugin as age runs it: the real `age` (Debian's 1.1.1) finds
// age-plugin-trousseau in PATH and wraps and unwraps file keys through a
// real `trousseau serve`. A missing `age` fails these tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>

#include "age/stanza.hpp"
#include "age/trousseau_keys.hpp"
#include "age_stanza.pb.h"
#include "common/bytes.hpp"
#include "kms/client.hpp"
#include "support/command.hpp"
#include "support/serve_process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace trousseau::age {
namespace {

using testkit::CommandResult;
using testkit::run_command;
using testkit::run_trousseau;

constexpr const char* kTwoOfTwo = R"(
providers:
  - {name: key-a, type: keyfile, path: "{dir}/keys/a.key"}
  - {name: key-b, type: keyfile, path: "{dir}/keys/b.key"}
policy: {threshold: 2, slots: [{providers: [key-a]}, {providers: [key-b]}]}
health: {probe_interval: 100ms, unhealthy_probe_interval: 50ms}
)";

/// A program in PATH, or "" (the caller fails the test).
std::string in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path p = std::filesystem::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return {};
}

/// age must find the plugin we built, not one installed elsewhere.
void put_plugin_first_in_path() {
  const char* plugin = std::getenv("AGE_PLUGIN_TROUSSEAU");
  ASSERT_NE(plugin, nullptr) << "AGE_PLUGIN_TROUSSEAU is not set (meson sets it)";
  const std::string dir = std::filesystem::path(plugin).parent_path().string();
  const char* path = std::getenv("PATH");
  ::setenv("PATH", (dir + ":" + (path ? path : "/usr/bin:/bin")).c_str(), 1);
  ASSERT_EQ(in_path("age-plugin-trousseau"), plugin);
}

std::string random_text(std::size_t n) {
  Bytes b(n);
  random_fill(b);
  return std::string(as_chars(b));
}

/// The header's lines and the rest (MAC line and payload) of an age file.
struct AgeFile {
  std::vector<std::string> stanza_lines;  // "-> …" and body lines, in order
  std::string intro, rest;
};

AgeFile split(const std::string& file) {
  AgeFile f;
  std::size_t pos = file.find('\n') + 1;
  f.intro = file.substr(0, pos);
  while (file.compare(pos, 4, "--- ") != 0) {
    const std::size_t end = file.find('\n', pos) + 1;
    f.stanza_lines.push_back(file.substr(pos, end - pos));
    pos = end;
  }
  f.rest = file.substr(pos);
  return f;
}

std::string join(const AgeFile& f) {
  std::string out = f.intro;
  for (const std::string& l : f.stanza_lines) out += l;
  return out + f.rest;
}

class Age : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<testkit::ServeProcess>(kTwoOfTwo);
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server_ && server_->started());
    age_ = in_path("age");
    ASSERT_FALSE(age_.empty()) << "`age` is not installed (scripts/install-deps --test installs it)";
    put_plugin_first_in_path();
    auto r = run_trousseau({"age-recipient", "--socket", server_->socket()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    recipient_ = r.out.substr(0, r.out.find('\n'));
    auto id = run_trousseau({"age-identity", "--socket", server_->socket()});
    ASSERT_EQ(id.exit_code, 0) << id.err;
    identity_file_ = dir_.file("identity.txt");
    testkit::write_file(identity_file_, id.out);
  }

  CommandResult encrypt(const std::vector<std::string>& recipients, const std::string& input) {
    std::vector<std::string> argv{age_};
    for (const std::string& r : recipients) argv.insert(argv.end(), {"-r", r});
    return run_command(argv, input);
  }
  CommandResult decrypt(const std::string& identity_file, const std::string& input) {
    return run_command({age_, "-d", "-i", identity_file}, input);
  }

  static inline std::unique_ptr<testkit::ServeProcess> server_;
  testkit::TempDir dir_;
  std::string age_, recipient_, identity_file_;
};

TEST_F(Age, FilesOfZeroOneAndTenMebibytesRoundTrip) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{10} << 20}) {
    const std::string plain = random_text(size);
    CommandResult enc = encrypt({recipient_}, plain);
    ASSERT_EQ(enc.exit_code, 0) << size << ": " << enc.err;
    EXPECT_NE(enc.out.find("\n-> trousseau v1\n"), std::string::npos) << "our stanza";
    CommandResult dec = decrypt(identity_file_, enc.out);
    ASSERT_EQ(dec.exit_code, 0) << size << ": " << dec.err;
    EXPECT_TRUE(dec.out == plain) << size;
  }
}

TEST_F(Age, ATrousseauAndAnX25519RecipientTogetherEachOpenTheFile) {
  const std::string keygen = in_path("age-keygen");
  ASSERT_FALSE(keygen.empty()) << "age-keygen (package age) is not installed";
  const std::string x25519_file = dir_.file("x25519.txt");
  CommandResult gen = run_command({keygen, "-o", x25519_file});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::string x25519 = gen.err.substr(gen.err.find("age1"), 62);
  const std::string plain = random_text(1000);
  CommandResult enc = encrypt({recipient_, x25519}, plain);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_NE(enc.out.find("\n-> X25519 "), std::string::npos);
  for (const std::string& id : {identity_file_, x25519_file}) {
    CommandResult dec = decrypt(id, enc.out);
    ASSERT_EQ(dec.exit_code, 0) << id << ": " << dec.err;
    EXPECT_TRUE(dec.out == plain) << id;
  }
}

TEST_F(Age, EncryptingToTheIdentityWrapsForItsSocketToo) {
  const std::string plain = random_text(100);
  CommandResult enc = run_command({age_, "-e", "-i", identity_file_}, plain);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  CommandResult dec = decrypt(identity_file_, enc.out);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_TRUE(dec.out == plain);
}

TEST_F(Age, ARecipientNamingNoRunningPluginFailsAtOnceWithTheReason) {
  const std::string nowhere = recipient_for(dir_.file("no.sock")).value();
  CommandResult enc = encrypt({nowhere}, "x");
  EXPECT_NE(enc.exit_code, 0);
  EXPECT_NE(enc.err.find("UNAVAILABLE"), std::string::npos) << enc.err;
  EXPECT_NE(enc.err.find(dir_.file("no.sock")), std::string::npos) << enc.err;
}

// Someone who can edit an age file's header, but holds no key, plays each
// move below; each must end in a refusal and never in a plaintext.
class AgeHeaderAttacker : public Age {};

TEST_F(AgeHeaderAttacker, AStanzaMovedFromAnotherFileDoesNotOpenThisOne) {
  const std::string plain_a = random_text(64), plain_b = random_text(64);
  CommandResult a = encrypt({recipient_}, plain_a), b = encrypt({recipient_}, plain_b);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  AgeFile fa = split(a.out), fb = split(b.out);
  fb.stanza_lines = fa.stanza_lines;  // B's header now wraps A's file key
  CommandResult dec = decrypt(identity_file_, join(fb));
  EXPECT_NE(dec.exit_code, 0);
  EXPECT_EQ(dec.out.find(plain_a), std::string::npos);
  EXPECT_EQ(dec.out.find(plain_b), std::string::npos);
  EXPECT_NE(dec.err.find("header"), std::string::npos) << dec.err;  // age's MAC check
}

TEST_F(AgeHeaderAttacker, AStanzaOfAnotherTypeIsNotOurs) {
  const std::string plain = random_text(64);
  CommandResult enc = encrypt({recipient_}, plain);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  AgeFile f = split(enc.out);
  ASSERT_EQ(f.stanza_lines[0], "-> trousseau v1\n");
  f.stanza_lines[0] = "-> trousseau-other v1\n";
  CommandResult dec = decrypt(identity_file_, join(f));
  EXPECT_NE(dec.exit_code, 0);
  EXPECT_TRUE(dec.out.empty());
  f.stanza_lines[0] = "-> trousseau v2\n";
  dec = decrypt(identity_file_, join(f));
  EXPECT_NE(dec.exit_code, 0);
  EXPECT_NE(dec.err.find("another version"), std::string::npos) << dec.err;
}

TEST_F(AgeHeaderAttacker, AnEnvelopeMadeForAnotherUseIsNotAFileKey) {
  // What kube-apiserver or `trousseau encrypt` would have the socket wrap:
  // 16 bytes without the file-key label. It opens, and must still be refused.
  kms::Client client(server_->socket());
  v2::EncryptResponse resp;
  ASSERT_TRUE(client.encrypt(random_text(16), resp).ok());
  StanzaBody body;
  body.set_ciphertext(resp.ciphertext());
  body.set_key_id(resp.key_id());
  for (const auto& [k, v] : resp.annotations()) (*body.mutable_annotations())[k] = v;
  std::ostringstream stanza;
  write_stanza(stanza, "trousseau", {"v1"}, as_bytes(body.SerializeAsString()));

  CommandResult enc = encrypt({recipient_}, random_text(64));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  AgeFile f = split(enc.out);
  std::string forged = f.intro + stanza.str() + f.rest;
  CommandResult dec = decrypt(identity_file_, forged);
  EXPECT_NE(dec.exit_code, 0);
  EXPECT_TRUE(dec.out.empty());
  EXPECT_NE(dec.err.find("not to an age file key"), std::string::npos) << dec.err;
}

TEST_F(AgeHeaderAttacker, AFlippedByteInTheEnvelopeIsRefusedByTheQuorum) {
  CommandResult enc = encrypt({recipient_}, random_text(64));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  AgeFile f = split(enc.out);
  // The body's first line holds the envelope's first bytes; flip one
  // character well inside the ciphertext.
  std::string& line = f.stanza_lines[1];
  ASSERT_GT(line.size(), 40u);
  line[40] = line[40] == 'A' ? 'B' : 'A';
  CommandResult dec = decrypt(identity_file_, join(f));
  EXPECT_NE(dec.exit_code, 0);
  EXPECT_TRUE(dec.out.empty());
  EXPECT_NE(dec.err.find("trousseau at"), std::string::npos) << dec.err;
}

// With the quorum down, age fails with the plugin's reason, and returns.
TEST(AgeQuorumDown, DecryptionFailsWithThePluginsMessageNamingTheProvider) {
  testkit::ServeProcess server(kTwoOfTwo);
  ASSERT_TRUE(server.started());
  const std::string age = in_path("age");
  ASSERT_FALSE(age.empty()) << "`age` is not installed (scripts/install-deps --test installs it)";
  put_plugin_first_in_path();
  testkit::TempDir dir;
  const std::string id_file = dir.file("identity.txt");
  testkit::write_file(id_file, identity_for(server.socket()).value() + "\n");
  CommandResult enc = run_command({age, "-r", recipient_for(server.socket()).value()}, "secret");
  ASSERT_EQ(enc.exit_code, 0) << enc.err;

  std::filesystem::remove(server.dir().file("keys/b.key"));
  kms::Client client(server.socket());
  ASSERT_TRUE(testkit::wait_until([&] {
    v2::StatusResponse st;
    return client.status(st).ok() && st.healthz() != "ok";
  })) << server.log();

  CommandResult dec = run_command({age, "-d", "-i", id_file}, enc.out);
  EXPECT_NE(dec.exit_code, 0);
  EXPECT_TRUE(dec.out.empty());
  EXPECT_NE(dec.err.find("trousseau at " + server.socket()), std::string::npos) << dec.err;
  EXPECT_NE(dec.err.find("key-b"), std::string::npos) << dec.err;
  CommandResult enc2 = run_command({age, "-r", recipient_for(server.socket()).value()}, "secret");
  EXPECT_NE(enc2.exit_code, 0);
  EXPECT_NE(enc2.err.find("key-b"), std::string::npos) << enc2.err;
}

}  // namespace
}  // namespace trousseau::age
