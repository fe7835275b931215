// Decrypt of the original Trousseau's ciphertexts (docs/migration.md): only
// the provider `legacy:` maps to an origin is asked, any one answer
// suffices, and nothing else is ever returned.
#include <gtest/gtest.h>

#include "envelope/legacy.hpp"
#include "support/engine_harness.hpp"
#include "support/text.hpp"

namespace trousseau::quorum {
namespace {

using namespace std::chrono_literals;
using testkit::contains;
using testkit::EngineHarness;
using testkit::kStepping;
using testkit::PolicySpec;

const Bytes kDek = to_bytes("a data key kube-apiserver sealed");

/// Policy 2-of-3 over a, b, c; "old-vault" and "old-aws" are in slot c
/// beside c, so the harness builds them.
PolicySpec with_legacy(config::LegacyConfig legacy) {
  PolicySpec spec;
  spec.threshold = 2;
  spec.slots = {{"a"}, {"b"}, {"c", "old-vault", "old-aws"}};
  spec.legacy = std::move(legacy);
  return spec;
}

std::string line(const std::string& origin, ByteView ciphertext) {
  return origin + ":-:" + base64_encode(ciphertext) + "\n";
}

TEST(EngineLegacy, OpensTrousseauV1VaultTextThroughTheMappedProvider) {
  EngineHarness h(with_legacy({{"vault", "old-vault"}}), kStepping);
  const std::string text = h.fake("old-vault").legacy_vault_text(kDek);
  auto plain = h.legacy_decrypt(as_bytes(text));
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kDek));
  EXPECT_EQ(h.fake("old-vault").legacy_decrypts(), 1);
  EXPECT_EQ(h.engine().counters().legacy_reads, 1u);
  for (const char* other : {"a", "b", "c", "old-aws"}) EXPECT_EQ(h.fake(other).legacy_decrypts(), 0);
}

TEST(EngineLegacy, V2AlphaAnswersWithTheFirstProviderAndCancelsTheOther) {
  EngineHarness h(with_legacy({{"vault", "old-vault"}, {"awskms", "old-aws"}}), kStepping);
  const std::string text =
      line("vault", as_bytes(h.fake("old-vault").legacy_vault_text(kDek))) +
      line("awskms", h.fake("old-aws").legacy_seal(kDek));
  h.fake("old-vault").script_unwrap({.hang = true});
  h.fake("old-aws").script_unwrap({.delay = 5ms});
  const auto start = Clock::now();
  auto pending = h.legacy_decrypt_async(as_bytes(text));
  h.step(5ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_TRUE(plain->equals(kDek));
  EXPECT_EQ(pending.took(start), 5ms);  // a hung Vault adds nothing
  h.settle();
  EXPECT_EQ(h.fake("old-vault").cancelled(), 1);
  EXPECT_EQ(h.fake("old-vault").in_flight(), 0);
}

TEST(EngineLegacy, AnUnmappedOriginIsRefusedWithoutAnyCall) {
  EngineHarness h(with_legacy({{"awskms", "old-aws"}}), kStepping);
  const std::string text = h.fake("old-vault").legacy_vault_text(kDek);
  auto plain = h.legacy_decrypt(as_bytes(text));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_TRUE(contains(plain.error().message(), "legacy.vault")) << plain.error().message();
  for (const char* p : {"a", "b", "c", "old-vault", "old-aws"}) EXPECT_EQ(h.fake(p).legacy_decrypts(), 0);
  EXPECT_EQ(h.engine().counters().legacy_reads, 0u);
}

TEST(EngineLegacy, NoLegacyConfigurationMeansNoLegacyDecrypt) {
  EngineHarness h(with_legacy({}), kStepping);
  auto plain = h.legacy_decrypt(as_bytes(h.fake("old-vault").legacy_vault_text(kDek)));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_EQ(h.fake("old-vault").legacy_decrypts(), 0);
}

// The attacker writes a ciphertext under a key the operator did not map
// (here: another provider's). It goes only to the mapped provider, which
// cannot open it: an error, never a plaintext.
TEST(EngineLegacy, ACiphertextOfAnotherKeyNeverOpens) {
  EngineHarness h(with_legacy({{"awskms", "old-aws"}}), kStepping);
  const std::string text = line("awskms", h.fake("a").legacy_seal(kDek));
  auto plain = h.legacy_decrypt(as_bytes(text));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);  // only the data was bad
  EXPECT_TRUE(contains(plain.error().message(), "old-aws")) << plain.error().message();
  EXPECT_EQ(h.fake("a").legacy_decrypts(), 0);
}

TEST(EngineLegacy, AFailingProviderIsNamedAsUnavailable) {
  EngineHarness h(with_legacy({{"vault", "old-vault"}}), kStepping);
  h.fake("old-vault").script_unwrap({.fail = Code::unavailable});
  auto plain = h.legacy_decrypt(as_bytes(h.fake("old-vault").legacy_vault_text(kDek)));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::unavailable);
  EXPECT_TRUE(contains(plain.error().message(), "old-vault")) << plain.error().message();
}

TEST(EngineLegacy, AHungProviderEndsAtTheDeadline) {
  PolicySpec spec = with_legacy({{"vault", "old-vault"}});
  spec.provider_timeout = 5s;  // the request's 2 s end it, not the provider's own timeout
  EngineHarness h(spec, kStepping);
  h.fake("old-vault").script_unwrap({.hang = true});
  auto pending = h.legacy_decrypt_async(as_bytes(h.fake("old-vault").legacy_vault_text(kDek)), 2s);
  h.step(2s, 10ms);
  ASSERT_TRUE(h.wait(pending));
  auto plain = pending.result.get();
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::deadline_exceeded);
  h.settle();
  EXPECT_EQ(h.fake("old-vault").in_flight(), 0);
}

TEST(EngineLegacy, MalformedLegacyTextIsInvalidArgument) {
  EngineHarness h(with_legacy({{"vault", "old-vault"}}), kStepping);
  auto plain = h.legacy_decrypt(as_bytes(std::string_view("vault:v1:%%%")));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code(), Code::invalid_argument);
  EXPECT_EQ(h.fake("old-vault").legacy_decrypts(), 0);
}

}  // namespace
}  // namespace trousseau::quorum
