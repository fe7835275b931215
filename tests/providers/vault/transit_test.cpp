// The vault provider against the Vault test double: wrap and unwrap, share
// context binding, rotation, retired versions, tampering, key ownership,
// errors, namespaces, cancellation, deadlines and legacy ciphertexts.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <future>

#include "provider_fixture.hpp"

namespace trousseau::providers::vault {
namespace {

using namespace std::chrono_literals;

class VaultTransitTest : public VaultFixture {
 protected:
  void SetUp() override { ASSERT_TRUE(start_double().running()); }

  Bytes context = Bytes{'s', 'l', 'o', 't', '-', '1'};
  SecretBytes share = SecretBytes::random(32);
};

TEST_F(VaultTransitTest, WrapsAndUnwrapsAShare) {
  vault().create_key("k");
  auto p = make();
  ASSERT_TRUE(p);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(w.key_version, "transit/keys/k@v1");
  EXPECT_TRUE(p->owns_key_version(w.key_version));
  auto [e2, out] = unwrap(*p, context, w.key_version, w.wrapped);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(out.equals(share.view()));
  EXPECT_TRUE(probe(*p).ok());
}

TEST_F(VaultTransitTest, AnAeadKeyBindsTheContextAsAssociatedData) {
  vault().create_key("k", false);
  auto p = make();
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  // The double opens it with the same associated_data only.
  const std::string ct = "vault:v1:" + base64_encode(w.wrapped);
  auto with_ad = vault().call("POST", "transit/decrypt/k",
                              R"({"ciphertext":")" + ct + R"(","associated_data":")" +
                                  base64_encode(context) + R"("})");
  EXPECT_EQ(with_ad.status, 200u) << with_ad.body;
  auto without = vault().call("POST", "transit/decrypt/k", R"({"ciphertext":")" + ct + R"("})");
  EXPECT_EQ(without.status, 400u);
  auto [e2, out] = unwrap(*p, Bytes{'o', 't', 'h', 'e', 'r'}, w.key_version, w.wrapped);
  EXPECT_EQ(e2.code(), Code::integrity) << e2.message();
}

TEST_F(VaultTransitTest, ADerivedKeyBindsTheContextAsContext) {
  vault().create_key("d", true);
  auto p = make("d");
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  const std::string ct = "vault:v1:" + base64_encode(w.wrapped);
  auto with_context = vault().call("POST", "transit/decrypt/d",
                                   R"({"ciphertext":")" + ct + R"(","context":")" +
                                       base64_encode(context) + R"("})");
  EXPECT_EQ(with_context.status, 200u) << with_context.body;
  auto [e2, out] = unwrap(*p, context, w.key_version, w.wrapped);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(out.equals(share.view()));
  auto [e3, nothing] = unwrap(*p, Bytes{'x'}, w.key_version, w.wrapped);
  EXPECT_EQ(e3.code(), Code::integrity) << e3.message();
}

TEST_F(VaultTransitTest, RotationChangesTheKeyIdentityAndOldVersionsStillUnwrap) {
  vault().create_key("k");
  auto p = make();
  const std::string before = p->key_identity();
  EXPECT_EQ(before, vault().address() + "/v1/transit/keys/k@v1");
  auto [e, old] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();

  vault().rotate_key("k");
  ASSERT_TRUE(probe(*p).ok());
  EXPECT_EQ(p->key_identity(), vault().address() + "/v1/transit/keys/k@v2");
  auto [e2, fresh] = wrap(*p, context, share.view());
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_EQ(fresh.key_version, "transit/keys/k@v2");
  for (const WrapResult* w : {&old, &fresh}) {
    auto [e3, out] = unwrap(*p, context, w->key_version, w->wrapped);
    ASSERT_TRUE(e3.ok()) << w->key_version << ": " << e3.message();
    EXPECT_TRUE(out.equals(share.view()));
  }
}

TEST_F(VaultTransitTest, AWrapAfterARotationRefreshesTheKeyIdentityWithoutAProbe) {
  vault().create_key("k");
  auto p = make();
  vault().rotate_key("k");
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(w.key_version, "transit/keys/k@v2");
  EXPECT_EQ(p->key_identity(), vault().address() + "/v1/transit/keys/k@v2");
}

TEST_F(VaultTransitTest, AVersionBelowMinDecryptionVersionIsRefused) {
  vault().create_key("k");
  auto p = make();
  auto [e, old] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  vault().rotate_key("k");
  vault().set_min_decryption_version("k", 2);

  // Vault's own refusal, before the provider knows of the new minimum.
  auto [e2, none] = unwrap(*p, context, old.key_version, old.wrapped);
  EXPECT_EQ(e2.code(), Code::invalid_argument) << e2.message();
  EXPECT_NE(e2.message().find("too old"), std::string::npos) << e2.message();

  // Once a probe has read the key, refused before any I/O.
  ASSERT_TRUE(probe(*p).ok());
  vault().fail("transit/decrypt/k", 503, 5);  // would show if a request were made
  auto [e3, none2] = unwrap(*p, context, old.key_version, old.wrapped);
  EXPECT_EQ(e3.code(), Code::invalid_argument) << e3.message();
  EXPECT_NE(e3.message().find("min_decryption_version 2"), std::string::npos) << e3.message();
}

TEST_F(VaultTransitTest, ATamperedShareIsAnIntegrityError) {
  vault().create_key("k");
  auto p = make();
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  Bytes bad = w.wrapped;
  bad[bad.size() / 2] ^= 0x01;
  auto [e2, none] = unwrap(*p, context, w.key_version, bad);
  EXPECT_EQ(e2.code(), Code::integrity) << e2.message();
  EXPECT_NE(e2.message().find("message authentication failed"), std::string::npos) << e2.message();
  // A version that does not exist is no better.
  auto [e3, none3] = unwrap(*p, context, "transit/keys/k@v7", w.wrapped);
  EXPECT_EQ(e3.code(), Code::integrity) << e3.message();
}

TEST_F(VaultTransitTest, AForeignKeyVersionIsRefusedWithoutIo) {
  vault().create_key("k");
  auto p = make();
  for (const char* foreign : {"transit/keys/other@v1", "team-a/transit/keys/k@v1",
                              "transit/keys/k@v0", "transit/keys/k@v1x", "transit/keys/k",
                              "sha256:abcd"}) {
    EXPECT_FALSE(p->owns_key_version(foreign)) << foreign;
  }
  EXPECT_TRUE(p->owns_key_version("transit/keys/k@v12"));
  vault().fail("transit/decrypt/k", 503, 5);  // a request would be answered 503
  auto [e, none] = unwrap(*p, context, "transit/keys/other@v1", Bytes{1, 2, 3});
  EXPECT_EQ(e.code(), Code::invalid_argument) << e.message();
}

TEST_F(VaultTransitTest, ThrottlingAndOutagesAreRetriedWithinTheDeadline) {
  vault().create_key("k");
  auto p = make();
  vault().fail("transit/encrypt/k", 429, 1);
  vault().fail("transit/decrypt/k", 503, 1);
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  auto [e2, out] = unwrap(*p, context, w.key_version, w.wrapped);
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(out.equals(share.view()));
}

TEST_F(VaultTransitTest, APersistentOutageIsUnavailableWithVaultsText) {
  vault().create_key("k");
  auto p = make();
  vault().fail("transit/encrypt/k", 503, 100);
  auto [e, w] = wrap(*p, context, share.view());
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
  EXPECT_NE(e.message().find("Vault is sealed"), std::string::npos) << e.message();
  vault().fail("transit/encrypt/k", 429, 100);
  auto [e2, w2] = wrap(*p, context, share.view());
  EXPECT_EQ(e2.code(), Code::unavailable) << e2.message();
  EXPECT_NE(e2.message().find("rate limit"), std::string::npos) << e2.message();
}

TEST_F(VaultTransitTest, AMissingKeyFailsTheProbeButNotTheStart) {
  auto p = make("absent");
  ASSERT_TRUE(p);
  EXPECT_NE(p->key_identity().find("@v?"), std::string::npos);
  Error e = probe(*p);
  EXPECT_EQ(e.code(), Code::unavailable) << e.message();
}

TEST_F(VaultTransitTest, NamespacesSendTheHeaderAndKeepKeysApart) {
  vault().ok("POST", "sys/namespaces/team-a");
  vault().ok("POST", "sys/mounts/transit", R"({"type":"transit"})", "team-a");
  vault().create_key("k", false, "team-a");
  auto p = make("k", "namespace: team-a");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_identity(), vault().address() + "/v1/team-a/transit/keys/k@v1");
  auto [e, w] = wrap(*p, context, share.view());
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(w.key_version, "team-a/transit/keys/k@v1");
  auto [e2, out] = unwrap(*p, context, w.key_version, w.wrapped);
  ASSERT_TRUE(e2.ok()) << e2.message();
  // The root namespace has no such key.
  auto root = make("k");
  EXPECT_FALSE(probe(*root).ok());
  EXPECT_FALSE(root->owns_key_version(w.key_version));
}

TEST_F(VaultTransitTest, CancellationCompletesPromptlyWithCancelled) {
  vault().create_key("k");
  auto p = make();
  asio::cancellation_signal signal;
  std::promise<Error> done;
  // The request is sent and then cut: emit from the io thread right after
  // initiating, so the completion can only be `cancelled`.
  asio::post(io, [&] {
    p->async_wrap(testkit::within(), context, share.view(),
                  asio::bind_cancellation_slot(signal.slot(), [&](Error e, WrapResult) {
                    done.set_value(e);
                  }));
    signal.emit(asio::cancellation_type::terminal);
  });
  Error e = done.get_future().get();
  EXPECT_EQ(e.code(), Code::cancelled) << e.message();
}

TEST_F(VaultTransitTest, APassedDeadlineIsDeadlineExceeded) {
  vault().create_key("k");
  auto p = make();
  auto r = p->async_wrap(providers::CallOptions{Clock::now() - 1ms, {}, {}}, context, share.view(),
                         asio::use_future([](Error e, WrapResult) { return e; }))
               .get();
  EXPECT_EQ(r.code(), Code::deadline_exceeded) << r.message();
}

TEST_F(VaultTransitTest, OpensTrousseauV1Ciphertexts) {
  vault().create_key("k");
  auto p = make();
  // Trousseau v1 sent base64(DEK) as Vault's `plaintext`, the API's own
  // encoding: Vault encrypted the DEK itself.
  const std::string dek = "0123456789abcdef0123456789abcdef";
  const std::string v1 = vault().encrypt("k", base64_encode(as_bytes(dek)));
  ASSERT_EQ(v1.rfind("vault:v1:", 0), 0u) << v1;
  auto [e, plain] = legacy(*p, v1);
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_TRUE(plain.equals(as_bytes(dek)));

  vault().fail("transit/decrypt/k", 503, 5);  // a request would be answered 503
  for (const char* bad : {"vault:1:abc", "vault:v:QUJD", "k8s:enc:kms:v1:x", "vault:v1:", "vault:v1:%%%"}) {
    auto [e2, none] = legacy(*p, bad);
    EXPECT_EQ(e2.code(), Code::invalid_argument) << bad << ": " << e2.message();
  }
}

}  // namespace
}  // namespace trousseau::providers::vault
