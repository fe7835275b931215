// `trousseau inspect` on what the real server wrote, in every form an
// operator meets it: raw, base64, and as kube-apiserver stores it in etcd.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>

#include "cli/keyfile_server.hpp"
#include "common/bytes.hpp"
#include "envelope/format.hpp"
#include "kms/client.hpp"
#include "support/command.hpp"
#include "support/stored_values.hpp"

namespace trousseau::cli {
namespace {

namespace json = boost::json;
using testkit::CommandResult;
using testkit::run_trousseau;

const std::string kPlaintext = "PLAINTEXT-MARKER-0123456789abcdef";

class Inspect : public WithKeyfileServer {
 protected:
  std::string encrypt(const std::string& api = "v2") {
    auto enc = run_trousseau({"encrypt", "--socket", socket(), "--api", api}, kPlaintext);
    EXPECT_EQ(enc.exit_code, 0) << enc.err;
    return enc.out;
  }
  std::string key_id() {
    v2::StatusResponse status;
    EXPECT_TRUE(kms::Client(socket()).status(status).ok());
    return status.key_id();
  }
  static json::value parse(const CommandResult& run) {
    boost::system::error_code ec;
    json::value v = json::parse(run.out, ec);
    EXPECT_FALSE(ec) << run.out << run.err;
    return ec ? json::value(json::object()) : v;
  }
  /// Secrets that must never appear in any output: each key file's key in
  /// every spelling, the plaintext, and the envelope's wrapped shares and
  /// sealed data.
  std::vector<std::string> secrets(const std::string& ciphertext) {
    std::vector<std::string> out = {kPlaintext};
    for (const char* name : {"a", "b", "c", "d"}) {
      std::ifstream in(server().dir().file(std::string("keys/") + name + ".key"));
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!text.empty() && text.back() == '\n') text.pop_back();
      Bytes key;
      EXPECT_TRUE(base64_decode(text, key)) << name;
      out.insert(out.end(), {text, std::string(as_chars(key)), hex_encode(key)});
    }
    auto env = envelope::parse(as_bytes(ciphertext), {});
    EXPECT_TRUE(env.ok());
    if (!env.ok()) return out;
    for (const auto& slot : env->slots) {
      for (const auto& w : slot.wraps) {
        out.insert(out.end(), {std::string(as_chars(w.wrapped)), hex_encode(w.wrapped),
                               base64_encode(w.wrapped)});
      }
    }
    out.insert(out.end(), {hex_encode(env->sealed), base64_encode(env->sealed)});
    return out;
  }
  static void expect_policy_of_the_server(const json::value& v) {
    const json::object& e = v.at("envelope").as_object();
    EXPECT_EQ(e.at("format").to_number<std::int64_t>(), 1);
    EXPECT_EQ(e.at("threshold").to_number<std::int64_t>(), 2);
    const json::array& slots = e.at("slots").as_array();
    ASSERT_EQ(slots.size(), 3u);
    const std::vector<std::vector<std::string>> want = {{"key-a"}, {"key-b"}, {"key-c", "key-d"}};
    for (std::size_t s = 0; s < 3; ++s) {
      EXPECT_EQ(slots[s].at("x").to_number<std::int64_t>(), static_cast<std::int64_t>(s + 1));
      const json::array& wraps = slots[s].at("wraps").as_array();
      ASSERT_EQ(wraps.size(), want[s].size()) << s;
      for (std::size_t w = 0; w < wraps.size(); ++w) {
        EXPECT_EQ(std::string(wraps[w].at("provider").as_string()), want[s][w]);
        EXPECT_EQ(std::string(wraps[w].at("key_version").as_string()).rfind("sha256:", 0), 0u);
        EXPECT_EQ(wraps[w].at("wrapped_bytes").to_number<std::int64_t>(), 60)
            << "nonce, share, tag";
        EXPECT_TRUE(wraps[w].at("annotation").is_null());
      }
    }
    EXPECT_EQ(e.at("sealed_bytes").to_number<std::int64_t>(),
              static_cast<std::int64_t>(kPlaintext.size() + 16));
    EXPECT_TRUE(v.at("problems").as_array().empty());
  }
};

TEST_F(Inspect, ReadsWhatEncryptWroteRawAsBase64AndAsStoredInEtcd) {
  const std::string ct = encrypt();
  const std::string stored =
      testkit::stored_kms_v2("trousseau", ct, key_id(), std::string(100, 'd'));
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"raw", ct}, {"base64", base64_encode(as_bytes(ct)) + "\n"}, {"etcd", stored}};
  for (const auto& [name, input] : forms) {
    for (const std::string& format : std::vector<std::string>{"auto", name}) {
      auto run = run_trousseau({"inspect", "--json", "--format", format}, input);
      ASSERT_EQ(run.exit_code, 0) << name << " as " << format << ": " << run.err;
      const json::value v = parse(run);
      EXPECT_EQ(std::string(v.at("input").as_string()), name == "base64" ? "raw" : name);
      EXPECT_EQ(v.at("base64").as_bool(), name == "base64");
      EXPECT_EQ(v.at("envelope").at("bytes").to_number<std::int64_t>(),
                static_cast<std::int64_t>(ct.size()));
      expect_policy_of_the_server(v);
    }
  }
  // The apiserver-side fields of the etcd form.
  auto run = run_trousseau({"inspect", "--json", "-"}, stored);
  const json::value v = parse(run);
  const json::object& s = v.at("stored").as_object();
  EXPECT_EQ(std::string(s.at("api").as_string()), "v2");
  EXPECT_EQ(std::string(s.at("provider").as_string()), "trousseau");
  EXPECT_EQ(std::string(s.at("key_id").as_string()), key_id());
  EXPECT_EQ(std::string(s.at("dek_source_type").as_string()), "HKDF_SHA256_XNONCE_AES_GCM_SEED");
  EXPECT_EQ(s.at("encrypted_data_bytes").to_number<std::int64_t>(), 100);
  EXPECT_TRUE(s.at("annotation_bytes").as_object().empty());
}

TEST_F(Inspect, ReadsAKmsV1ValueFromAFile) {
  const std::string ct = encrypt("v1beta1");
  const std::string path = server().dir().file("value.bin");
  testkit::write_file(path, testkit::stored_kms_v1("legacy", ct, std::string(77, 'd')));
  auto run = run_trousseau({"inspect", path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("etcd value, KMS v1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("legacy"), std::string::npos);
  EXPECT_NE(run.out.find("77 bytes"), std::string::npos);
  EXPECT_NE(run.out.find("2 of 3 slots"), std::string::npos);
  for (const char* p : {"key-a", "key-b", "key-c", "key-d"})
    EXPECT_NE(run.out.find(p), std::string::npos) << p;
}

TEST_F(Inspect, NeverPrintsThePlaintextKeysWrappedSharesOrSealedData) {
  const std::string ct = encrypt();
  const std::string stored = testkit::stored_kms_v2("trousseau", ct, key_id(), "data");
  const auto hidden = secrets(ct);
  for (const std::string& input : {ct, base64_encode(as_bytes(ct)), stored}) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"inspect"}, std::vector<std::string>{"inspect", "--json"}}) {
      auto run = run_trousseau(args, input);
      ASSERT_EQ(run.exit_code, 0) << run.err;
      for (const std::string& secret : hidden) {
        EXPECT_EQ(run.out.find(secret), std::string::npos) << "printed a secret: " << run.out;
        EXPECT_EQ(run.err.find(secret), std::string::npos);
      }
    }
  }
}

TEST_F(Inspect, IgnoresTheNewlineEtcdctlAppends) {
  const std::string ct = encrypt();
  auto run =
      run_trousseau({"inspect"}, testkit::stored_kms_v2("trousseau", ct, key_id(), "data") + "\n");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("a trailing newline was ignored"), std::string::npos) << run.out;
}

TEST_F(Inspect, ShowsTheFrameAndNamesTheProblemWhenApiserverWouldRefuseTheValue) {
  const std::string ct = encrypt();
  auto run = run_trousseau({"inspect"}, testkit::stored_kms_v2("trousseau", ct, "", "data"));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("2 of 3 slots"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("kube-apiserver would refuse this value: key_id of 0 bytes"),
            std::string::npos)
      << run.out;
}

TEST_F(Inspect, AnotherPluginsDekIsShownAsSuch) {
  auto run = run_trousseau({"inspect", "--json"},
                           testkit::stored_kms_v2("vault", "their-format", "k1", "data"));
  EXPECT_EQ(run.exit_code, 1);
  const json::value v = parse(run);
  EXPECT_EQ(std::string(v.at("stored").at("provider").as_string()), "vault");
  EXPECT_FALSE(v.as_object().contains("envelope"));
  ASSERT_EQ(v.at("problems").as_array().size(), 1u);
  EXPECT_NE(std::string(v.at("problems").at(0).as_string()).find("not a Trousseau envelope"),
            std::string::npos);
}

struct Garbage {
  std::string what;
  std::vector<std::string> options;
  std::string input;
  std::string message;  ///< expected on standard error
};

TEST(InspectRefuses, GarbageWithAMessageNamingWhatIsWrong) {
  using namespace std::string_literals;
  const std::vector<Garbage> cases = {
      {"text", {}, "hello world", "is not a Trousseau envelope"},
      {"empty", {}, "", "the input is empty"},
      {"another transformer",
       {},
       "k8s:enc:aescbc:v1:key1:xxxx",
       "\"aescbc\" transformer, not by a KMS provider"},
      {"unencrypted", {}, std::string("k8s\0\x0a\x09", 6), "an unencrypted Kubernetes object"},
      {"unknown version", {}, "k8s:enc:kms:v3:x:abc", "unknown KMS storage version \"v3\""},
      {"unterminated name", {}, "k8s:enc:kms:v2:trousseau", "is not terminated by ':'"},
      {"junk protobuf", {}, "k8s:enc:kms:v2:t:\xff\xff\xff", "malformed EncryptedObject"},
      {"v1 cut short", {}, "k8s:enc:kms:v1:t:\x01", "no DEK length"},
      {"v1 long DEK", {}, "k8s:enc:kms:v1:t:\x01\x00short"s, "claims 256 bytes, 5 follow"},
      {"bad envelope", {}, "TRS\x01garbage", "envelope: malformed ciphertext"},
      {"base64 of text",
       {},
       base64_encode(as_bytes("hello")),
       "base64 of something that is neither"},
      {"forced base64", {"--format", "base64"}, "TRS\x01", "not valid base64"},
      {"forced raw", {"--format", "raw"}, "k8s:enc:kms:v2:t:", "bad magic"},
      {"forced json", {"--format", "json"}, "[1]", "not an `encrypt --json` document"},
  };
  for (const Garbage& g : cases) {
    std::vector<std::string> args = {"inspect"};
    args.insert(args.end(), g.options.begin(), g.options.end());
    auto run = run_trousseau(args, g.input);
    EXPECT_EQ(run.exit_code, 1) << g.what << ": " << run.err;
    EXPECT_EQ(run.out, "") << g.what;
    EXPECT_EQ(run.err.rfind("trousseau inspect: ", 0), 0u) << g.what << ": " << run.err;
    EXPECT_NE(run.err.find(g.message), std::string::npos) << g.what << ": " << run.err;
  }
}

TEST(InspectRefuses, AFileThatIsNotThere) {
  auto run = run_trousseau({"inspect", "/nonexistent/value"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("cannot open /nonexistent/value"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace trousseau::cli
