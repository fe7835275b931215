// The inspection never crashes, whatever it is given: random bytes, random
// bytes behind each prefix it knows, every truncation and many bit flips of
// valid values. Run in process (thousands of inputs), and through the
// binary for a sample, which must end in 0 or 1 and never by a signal.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <random>

#include "cli/inspection.hpp"
#include "common/bytes.hpp"
#include "envelope/format.hpp"
#include "kmsv2_storage.pb.h"
#include "support/command.hpp"

namespace trousseau::cli {
namespace {

constexpr std::uint32_t kSeed = 20261129;

/// A structurally valid envelope (nothing here is authenticated by inspect).
std::string valid_envelope() {
  envelope::Envelope env;
  env.threshold = 2;
  env.nonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  env.slots = {{1, {{"key-a", "sha256:aaaa", Bytes(60, 0xa1)}}},
               {2, {{"key-b", "sha256:bbbb", Bytes(60, 0xb2)}}},
               {3, {{"key-c", "sha256:cccc", Bytes(60, 0xc3)}, {"key-d", "", Bytes(60, 0xd4)}}}};
  env.header_bytes = envelope::encode_header(env);
  env.sealed = Bytes(48, 0x5e);
  auto encoded = envelope::encode(env, {});
  EXPECT_TRUE(encoded.ok());
  return encoded.ok() ? std::string(as_chars(encoded->ciphertext)) : std::string();
}

std::vector<std::string> valid_values() {
  const std::string env = valid_envelope();
  ::kmsv2::storage::EncryptedObject object;
  object.set_encrypteddata(std::string(40, 'd'));
  object.set_keyid("trousseau-0123");
  object.set_encrypteddeksource(env);
  auto* annotation = object.add_annotations();
  annotation->set_key("note.example.com");
  annotation->set_value("v");
  object.set_encrypteddeksourcetype(::kmsv2::storage::HKDF_SHA256_XNONCE_AES_GCM_SEED);
  std::string v1 = "k8s:enc:kms:v1:p:";
  v1 += static_cast<char>(env.size() >> 8);
  v1 += static_cast<char>(env.size() & 0xff);
  return {env, base64_encode(as_bytes(env)), "k8s:enc:kms:v2:p:" + object.SerializeAsString(),
          v1 + env + "data"};
}

/// Inspects `input` in every format; a result must render, as text and as
/// JSON that parses, and an error must say something.
void survives(const std::string& input, const std::string& what) {
  for (InputFormat f : {InputFormat::automatic, InputFormat::raw, InputFormat::base64,
                        InputFormat::etcd, InputFormat::json}) {
    auto result = inspect(as_bytes(input), f);
    if (!result.ok()) {
      EXPECT_FALSE(result.error().message().empty()) << what;
      continue;
    }
    EXPECT_FALSE(render_text(result.value()).empty()) << what;
    boost::system::error_code ec;
    boost::json::parse(render_json(result.value()), ec);
    EXPECT_FALSE(ec) << what << ": JSON output does not parse";
  }
}

TEST(InspectFuzz, ValidValuesReadCleanly) {
  for (const std::string& v : valid_values()) {
    auto result = inspect(as_bytes(v), InputFormat::automatic);
    ASSERT_TRUE(result.ok()) << result.error().message();
    EXPECT_TRUE(result->problems.empty());
    ASSERT_TRUE(result->envelope.has_value());
    EXPECT_EQ(result->envelope->slots.size(), 3u);
  }
}

TEST(InspectFuzz, RandomBytesAloneAndBehindEveryKnownPrefix) {
  std::mt19937 rng(kSeed);
  const std::vector<std::string> prefixes = {
      "", "k8s:enc:kms:v2:p:", "k8s:enc:kms:v1:p:", "TRS\x01", "{", "k8s:enc:kms:v2:", "k8s:enc:",
      "vault:v", "vault:v1:", "awskms:-:", "vault:-:"};
  for (int i = 0; i < 3000; ++i) {
    std::string input = prefixes[i % prefixes.size()];
    const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 300)(rng);
    for (std::size_t b = 0; b < n; ++b) input += static_cast<char>(rng() & 0xff);
    survives(input, "random input " + std::to_string(i) + " (seed " + std::to_string(kSeed) + ")");
  }
}

TEST(InspectFuzz, EveryTruncationOfAValidValue) {
  const auto values = valid_values();
  for (std::size_t v = 0; v < values.size(); ++v) {
    for (std::size_t len = 0; len < values[v].size(); ++len) {
      const std::string cut = values[v].substr(0, len);
      survives(cut, "value " + std::to_string(v) + " cut at " + std::to_string(len));
    }
  }
  // Our envelope has one spelling: no proper prefix of it is one.
  const std::string& raw = values[0];
  for (std::size_t len = 0; len < raw.size(); ++len) {
    EXPECT_FALSE(inspect(as_bytes(raw.substr(0, len)), InputFormat::raw).ok()) << len;
  }
}

TEST(InspectFuzz, BitFlipsOfValidValues) {
  std::mt19937 rng(kSeed);
  for (const std::string& value : valid_values()) {
    for (int i = 0; i < 500; ++i) {
      std::string flipped = value;
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, value.size() - 1)(rng);
      flipped[at] = static_cast<char>(flipped[at] ^ (1 << (rng() % 8)));
      survives(flipped, "flip at " + std::to_string(at));
    }
  }
}

TEST(InspectFuzz, TheBinaryEndsInZeroOrOneOnTruncations) {
  const std::string value = valid_values()[2];  // the etcd v2 form
  for (std::size_t len = 0; len < value.size(); len += value.size() / 16 + 1) {
    auto run = testkit::run_trousseau({"inspect"}, value.substr(0, len));
    EXPECT_EQ(run.signal, 0) << len;
    EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << len << ": " << run.exit_code;
    if (run.exit_code == 1) {
      EXPECT_EQ(run.err.rfind("trousseau inspect: ", 0), 0u) << run.err;
    }
  }
}

TEST(InspectText, ShowsEveryWrapAndWhereItLives) {
  const std::string env = valid_envelope();
  auto result = inspect(as_bytes(env), InputFormat::raw);
  ASSERT_TRUE(result.ok());
  const std::string text = render_text(result.value());
  EXPECT_NE(text.find("2 of 3 slots"), std::string::npos) << text;
  EXPECT_NE(text.find("0102030405060708090a0b0c"), std::string::npos) << "the envelope id";
  EXPECT_NE(text.find("a 32-byte plaintext and a 16-byte tag"), std::string::npos) << text;
  for (const char* p : {"key-a", "key-b", "key-c", "key-d", "sha256:cccc"}) {
    EXPECT_NE(text.find(p), std::string::npos) << p << "\n" << text;
  }
}

TEST(InspectText, ValuesFromTheInputCannotDriveTheTerminal) {
  ::kmsv2::storage::EncryptedObject object;
  object.set_encrypteddata("d");
  object.set_keyid("id\x1b[2J\nforged: line");
  object.set_encrypteddeksource(valid_envelope());
  auto result = inspect(as_bytes("k8s:enc:kms:v2:name\x1b]0;x\x07:" + object.SerializeAsString()),
                        InputFormat::etcd);
  ASSERT_TRUE(result.ok()) << result.error().message();
  const std::string text = render_text(result.value());
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos);
  EXPECT_EQ(text.find("\nforged"), std::string::npos) << text;
  EXPECT_NE(text.find("id\\x1b[2J\\nforged: line"), std::string::npos) << text;
}

/// kube-apiserver's KMS v1 value around `dek` (2-byte length, then data).
std::string v1_value(const std::string& dek) {
  std::string v = "k8s:enc:kms:v1:trousseau:";
  v += static_cast<char>(dek.size() >> 8);
  v += static_cast<char>(dek.size() & 0xff);
  return v + dek + "sealed-object";
}

// A migration is done when no stored value reads as the original
// Trousseau's: inspect names the format and origins, and exits 1 on them.
TEST(InspectLegacy, RecognisesTheOriginalsFormsInEtcdValuesAndRaw) {
  const std::string vault = "vault:v7:" + base64_encode(as_bytes(std::string(44, 'x')));
  const std::string alpha = "awskms:-:" + base64_encode(Bytes(150, 0x42)) + "\nvault:-:" +
                            base64_encode(as_bytes(vault)) + "\n";
  for (const std::string& value : {vault, alpha, v1_value(vault), v1_value(alpha),
                                   base64_encode(as_bytes(v1_value(alpha)))}) {
    auto in = inspect(as_bytes(value), InputFormat::automatic);
    ASSERT_TRUE(in.ok()) << in.error().message();
    ASSERT_TRUE(in->legacy.has_value());
    EXPECT_FALSE(in->envelope.has_value());
    ASSERT_EQ(in->problems.size(), 1u);
    EXPECT_NE(in->problems[0].find("original Trousseau"), std::string::npos);
    const std::string text = render_text(*in);
    EXPECT_NE(text.find("trousseau v"), std::string::npos) << text;
    auto doc = boost::json::parse(render_json(*in)).as_object();
    ASSERT_TRUE(doc.contains("legacy"));
    const auto& parts = doc.at("legacy").at("parts").as_array();
    const auto& last = parts.back().as_object();
    EXPECT_EQ(last.at("origin").as_string(), "vault");
    EXPECT_EQ(last.at("vault_key_version").as_int64(), 7);
  }
  auto alpha_in = inspect(as_bytes(alpha), InputFormat::automatic);
  ASSERT_TRUE(alpha_in.ok());
  ASSERT_EQ(alpha_in->legacy->parts.size(), 2u);
  EXPECT_EQ(alpha_in->legacy->parts[0].origin, "awskms");
  EXPECT_EQ(alpha_in->legacy->parts[0].ciphertext.size(), 150u);
}

TEST(InspectLegacy, InAKmsV2ValueItIsAProblemOfItsOwn) {
  ::kmsv2::storage::EncryptedObject object;
  object.set_encrypteddata(std::string(40, 'd'));
  object.set_keyid("k");
  object.set_encrypteddeksource("vault:v1:" + base64_encode(as_bytes(std::string(44, 'x'))));
  object.set_encrypteddeksourcetype(::kmsv2::storage::AES_GCM_KEY);
  auto in = inspect(as_bytes("k8s:enc:kms:v2:p:" + object.SerializeAsString()), InputFormat::automatic);
  ASSERT_TRUE(in.ok()) << in.error().message();
  ASSERT_TRUE(in->legacy.has_value());
  bool named = false;
  for (const std::string& p : in->problems) named |= p.find("only through KMS v1beta1") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(InspectLegacy, MalformedLegacyTextIsRefusedRaw) {
  auto in = inspect(as_bytes(std::string_view("vault:v1:%%%")), InputFormat::automatic);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.error().code(), Code::invalid_argument);
}

}  // namespace
}  // namespace trousseau::cli
