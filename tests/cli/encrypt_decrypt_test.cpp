// `trousseau encrypt | decrypt` against the real server process: every
// output form back through decrypt, both APIs, and the errors an operator
// sees.
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "cli/keyfile_server.hpp"
#include "common/bytes.hpp"
#include "kms/client.hpp"
#include "support/command.hpp"
#include "support/fake_provider.hpp"
#include "support/running_server.hpp"

namespace trousseau::cli {
namespace {

using testkit::run_trousseau;

/// Bytes a text pipeline would mangle: NUL, 0xff, a lone CR, no final newline.
const std::string kBinary = std::string("top\0secret\xff\r\n-x", 16);

class EncryptDecrypt : public WithKeyfileServer {
 protected:
  testkit::CommandResult encrypt(std::vector<std::string> options, const std::string& input) {
    options.insert(options.begin(), {"encrypt", "--socket", socket()});
    return run_trousseau(options, input);
  }
  testkit::CommandResult decrypt(std::vector<std::string> options, const std::string& input) {
    options.insert(options.begin(), {"decrypt", "--socket", socket()});
    return run_trousseau(options, input);
  }
};

TEST_F(EncryptDecrypt, RawBytesRoundTripOnV2) {
  auto enc = encrypt({}, kBinary);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_EQ(enc.err, "");
  EXPECT_EQ(enc.out.rfind("TRS\x01", 0), 0u) << "not an envelope";
  EXPECT_EQ(enc.out.find("secret"), std::string::npos);
  auto dec = decrypt({}, enc.out);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, kBinary);
}

TEST_F(EncryptDecrypt, RawBytesRoundTripOnV1beta1) {
  auto enc = encrypt({"--api", "v1beta1"}, kBinary);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  auto dec = decrypt({"--api", "v1beta1"}, enc.out);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, kBinary);
}

TEST_F(EncryptDecrypt, Base64IsOneLineThatDecryptReadsBack) {
  for (const std::string api : {"v2", "v1beta1"}) {
    auto enc = encrypt({"--api", api, "--base64"}, kBinary);
    ASSERT_EQ(enc.exit_code, 0) << enc.err;
    ASSERT_FALSE(enc.out.empty());
    EXPECT_EQ(enc.out.find('\n'), enc.out.size() - 1) << "one line";
    Bytes raw;
    ASSERT_TRUE(base64_decode(enc.out.substr(0, enc.out.size() - 1), raw));
    auto dec = decrypt({"--api", api, "--base64"}, enc.out);
    ASSERT_EQ(dec.exit_code, 0) << dec.err;
    EXPECT_EQ(dec.out, kBinary) << api;
  }
}

TEST_F(EncryptDecrypt, JsonPipelineAsTheDocsShowIt) {
  const std::string bin = testkit::trousseau_bin();
  const std::string script = "echo hi | " + bin + " encrypt --json --socket " + socket() + " | " +
                             bin + " decrypt --json --socket " + socket();
  auto run = testkit::run_command({"/bin/sh", "-c", script});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "hi\n");
}

TEST_F(EncryptDecrypt, JsonDocumentCarriesTheKeyIdStatusReportsAndNoPlaintext) {
  const std::string plaintext = "PLAINTEXT-MARKER-0123456789";
  auto enc = encrypt({"--json"}, plaintext);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(enc.out, ec);
  ASSERT_FALSE(ec) << enc.out;
  v2::StatusResponse status;
  ASSERT_TRUE(kms::Client(socket()).status(status).ok());
  EXPECT_EQ(std::string(doc.at("api").as_string()), "v2");
  EXPECT_EQ(std::string(doc.at("key_id").as_string()), status.key_id());
  EXPECT_TRUE(doc.at("annotations").as_object().empty())
      << "a 2-of-3 key-file envelope fits inline";
  // Neither the plaintext nor its base64 (at any of the three alignments).
  for (std::size_t skip = 0; skip < 3; ++skip) {
    const std::string b64 = base64_encode(as_bytes(plaintext.substr(skip)));
    EXPECT_EQ(enc.out.find(b64.substr(4, 16)), std::string::npos) << skip;
  }
  EXPECT_EQ(enc.out.find(plaintext), std::string::npos);
}

TEST_F(EncryptDecrypt, AV1beta1DocumentIsDecryptedWithV1beta1UnlessTheOperatorSaysOtherwise) {
  auto enc = encrypt({"--api", "v1beta1", "--json"}, kBinary);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_NE(enc.out.find("\"api\":\"v1beta1\""), std::string::npos) << enc.out;
  auto dec = decrypt({"--json"}, enc.out);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, kBinary);
  auto conflict = decrypt({"--json", "--api", "v2"}, enc.out);
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_NE(conflict.err.find("the document is for --api v1beta1, not v2"), std::string::npos)
      << conflict.err;
}

TEST_F(EncryptDecrypt, GarbageCiphertextEndsInOneWithTheGrpcCodeName) {
  auto dec = decrypt({}, "not a ciphertext");
  EXPECT_EQ(dec.exit_code, 1);
  EXPECT_EQ(dec.out, "");
  EXPECT_EQ(dec.err.rfind("trousseau decrypt: INVALID_ARGUMENT: ", 0), 0u) << dec.err;
}

TEST_F(EncryptDecrypt, AnEmptyPlaintextIsThePluginsToRefuse) {
  auto enc = encrypt({}, "");
  EXPECT_EQ(enc.exit_code, 1);
  EXPECT_NE(enc.err.find("INVALID_ARGUMENT: plaintext is empty"), std::string::npos) << enc.err;
}

TEST_F(EncryptDecrypt, MoreThanThePluginAcceptsIsRefusedBeforeAnyCall) {
  auto enc = encrypt({}, std::string(64 * 1024 + 1, 'x'));
  EXPECT_EQ(enc.exit_code, 1);
  EXPECT_NE(enc.err.find("more than 65536 bytes"), std::string::npos) << enc.err;
}

TEST_F(EncryptDecrypt, BadInputDocumentsAreRefusedNamingTheField) {
  auto dec = decrypt({"--json"}, R"({"ciphertext": "%%%"})");
  EXPECT_EQ(dec.exit_code, 1);
  EXPECT_NE(dec.err.find("\"ciphertext\" is not valid base64"), std::string::npos) << dec.err;
  dec = decrypt({"--base64"}, "not base64!");
  EXPECT_EQ(dec.exit_code, 1);
  EXPECT_NE(dec.err.find("not valid base64"), std::string::npos) << dec.err;
}

TEST(EncryptDecryptWithoutServer, NoSocketIsUnavailableWithAHint) {
  testkit::TempDir dir;
  const std::string missing = dir.file("absent.sock");
  auto enc = run_trousseau({"encrypt", "--socket", missing}, "hi");
  EXPECT_EQ(enc.exit_code, 1);
  EXPECT_EQ(enc.err.rfind("trousseau encrypt: UNAVAILABLE: ", 0), 0u) << enc.err;
  EXPECT_NE(enc.err.find("no socket at " + missing), std::string::npos) << enc.err;
}

// Large wrapped shares go into annotations, which only the JSON document
// carries. An in-process server with fake providers makes them large.
constexpr const char* kPaddedFakes = R"(
providers:
  - {name: big-a, type: fake}
  - {name: big-b, type: fake}
policy:
  threshold: 2
  slots: [{providers: [big-a]}, {providers: [big-b]}]
)";

TEST(EncryptDecryptWithAnnotations, OnlyJsonCarriesThemAndDecryptSendsThemBack) {
  testkit::RunningServer server(kPaddedFakes);
  ASSERT_TRUE(server.started());
  for (const char* name : {"big-a", "big-b"})
    testkit::FakeProvider::find(name)->set_wrap_padding(700);
  auto raw = run_trousseau({"encrypt", "--socket", server.socket()}, "seed");
  EXPECT_EQ(raw.exit_code, 1);
  EXPECT_EQ(raw.out, "") << "half an answer is no answer";
  EXPECT_NE(raw.err.find("in annotations, which only --json carries"), std::string::npos)
      << raw.err;

  auto enc = run_trousseau({"encrypt", "--socket", server.socket(), "--json"}, "seed");
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_NE(enc.out.find(".shares.trousseau.io"), std::string::npos) << enc.out;
  auto dec = run_trousseau({"decrypt", "--socket", server.socket(), "--json"}, enc.out);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, "seed");
}

TEST(EncryptDecryptWithAnnotations, TheUidReachesTheProviders) {
  testkit::RunningServer server(kPaddedFakes);
  ASSERT_TRUE(server.started());
  auto enc =
      run_trousseau({"encrypt", "--socket", server.socket(), "--json", "--uid", "smoke-1"}, "x");
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  auto dec = run_trousseau({"decrypt", "--socket", server.socket(), "--json", "--uid", "smoke-2"},
                           enc.out);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  const auto ids = testkit::FakeProvider::find("big-a")->request_ids();
  EXPECT_NE(std::find(ids.begin(), ids.end(), "smoke-1"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "smoke-2"), ids.end());
}

}  // namespace
}  // namespace trousseau::cli
