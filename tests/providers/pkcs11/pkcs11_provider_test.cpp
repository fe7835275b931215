// The pkcs11 provider against a real SoftHSM2 token.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <cstdio>
#include <cstdlib>
#include <future>

#include "pkcs11_fixture.hpp"
#include "providers/pkcs11/module.hpp"
#include "providers/pkcs11/pkcs11_provider.hpp"
#include "support/temp_dir.hpp"

namespace trousseau::providers::pkcs11 {
namespace {

TEST_F(Pkcs11Test, WrapUnwrapRoundTrip) {
  auto p = make_ok(entry());
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  // Lambdas name the bindings they use ([&, &w = w]): clang 14 cannot
  // capture a structured binding implicitly.
  auto [err, w] = run([&](auto t) { return p->async_wrap(options(), context(), share.view(), t); });
  ASSERT_TRUE(err.ok()) << err.message();
  EXPECT_EQ(w.key_version, p->key_identity());
  auto [err2, back] =
      run([&, &w = w](auto t) { return p->async_unwrap(options(), context(), w.key_version, w.wrapped, t); });
  ASSERT_TRUE(err2.ok()) << err2.message();
  EXPECT_TRUE(back.equals(share.view()));
}

TEST_F(Pkcs11Test, WrappedShareDiffersEachTimeWithAFreshIv) {
  auto p = make_ok(entry());
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  auto [e1, a] = run([&](auto t) { return p->async_wrap(options(), context(), share.view(), t); });
  auto [e2, b] = run([&](auto t) { return p->async_wrap(options(), context(), share.view(), t); });
  ASSERT_TRUE(e1.ok() && e2.ok());
  ASSERT_EQ(a.wrapped.size(), 12u + 32u + 16u);  // IV || ciphertext || tag
  EXPECT_NE(a.wrapped, b.wrapped);
  EXPECT_NE(Bytes(a.wrapped.begin(), a.wrapped.begin() + 12),
            Bytes(b.wrapped.begin(), b.wrapped.begin() + 12));
}

TEST_F(Pkcs11Test, WrongContextFailsIntegrity) {
  auto p = make_ok(entry());
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = run([&](auto t) { return p->async_wrap(options(), context(1), share.view(), t); });
  ASSERT_TRUE(err.ok()) << err.message();
  auto [e2, s2] =
      run([&, &w = w](auto t) { return p->async_unwrap(options(), context(2), w.key_version, w.wrapped, t); });
  EXPECT_EQ(e2.code(), Code::integrity) << e2.message();
  EXPECT_NE(e2.message().find("C_Decrypt"), std::string::npos) << e2.message();
  EXPECT_TRUE(s2.empty());
}

TEST_F(Pkcs11Test, TamperedWrappedShareFailsIntegrity) {
  auto p = make_ok(entry());
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = run([&](auto t) { return p->async_wrap(options(), context(), share.view(), t); });
  ASSERT_TRUE(err.ok()) << err.message();
  for (std::size_t at : {std::size_t{0}, std::size_t{20}, w.wrapped.size() - 1}) {  // IV, body, tag
    Bytes bad = w.wrapped;
    bad[at] ^= 0x01;
    auto [e, s] = run([&, &w = w](auto t) { return p->async_unwrap(options(), context(), w.key_version, bad, t); });
    EXPECT_EQ(e.code(), Code::integrity) << "byte " << at << ": " << e.message();
  }
  Bytes truncated(w.wrapped.begin(), w.wrapped.begin() + 20);
  auto [e, s] =
      run([&, &w = w](auto t) { return p->async_unwrap(options(), context(), w.key_version, truncated, t); });
  EXPECT_EQ(e.code(), Code::integrity) << e.message();
  // The provider is still healthy afterwards.
  auto [ok, back] =
      run([&, &w = w](auto t) { return p->async_unwrap(options(), context(), w.key_version, w.wrapped, t); });
  EXPECT_TRUE(ok.ok()) << ok.message();
}

TEST_F(Pkcs11Test, FindsTheKeyByLabelOrById) {
  auto by_label = make_ok(entry());
  auto by_id = make_ok(bare_entry("token_label: " + hsm->token_label() +
                                  ", pin_file: " + hsm->pin_file() + ", key_id: " + hsm->key_id()));
  ASSERT_NE(by_label, nullptr);
  ASSERT_NE(by_id, nullptr);
  EXPECT_EQ(by_label->key_identity(), by_id->key_identity());
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = run([&](auto t) { return by_label->async_wrap(options(), context(), share.view(), t); });
  ASSERT_TRUE(err.ok()) << err.message();
  auto [e2, back] =
      run([&, &w = w](auto t) { return by_id->async_unwrap(options(), context(), w.key_version, w.wrapped, t); });
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
}

TEST_F(Pkcs11Test, SelectsTheTokenByLabelOrBySlot) {
  auto by_slot =
      make_ok(bare_entry("slot: " + std::to_string(hsm->slot()) + ", pin_file: " + hsm->pin_file() +
                         ", key_label: " + hsm->key_label()));
  ASSERT_NE(by_slot, nullptr);
  auto by_label = make_ok(entry());
  ASSERT_NE(by_label, nullptr);
  EXPECT_EQ(by_slot->key_identity(), by_label->key_identity());
  Error err = run([&](auto t) { return by_slot->async_probe(options(), t); });
  EXPECT_TRUE(err.ok()) << err.message();
}

TEST_F(Pkcs11Test, UnknownTokenLabelOrSlotFailsAtCreate) {
  auto by_label = make(bare_entry("token_label: nosuch, pin_file: " + hsm->pin_file() +
                                  ", key_label: " + hsm->key_label()));
  ASSERT_FALSE(by_label.ok());
  EXPECT_EQ(by_label.error().code(), Code::failed_precondition);
  EXPECT_NE(by_label.error().message().find("no token labelled 'nosuch'"), std::string::npos)
      << by_label.error().message();
  auto by_slot = make(
      bare_entry("slot: 4242, pin_file: " + hsm->pin_file() + ", key_label: " + hsm->key_label()));
  ASSERT_FALSE(by_slot.ok());
  EXPECT_NE(by_slot.error().message().find("CKR_SLOT_ID_INVALID"), std::string::npos)
      << by_slot.error().message();
}

TEST_F(Pkcs11Test, WrongPinIsPermissionDeniedNamingCkrPinIncorrect) {
  testkit::TempDir dir;
  testkit::write_file(dir.file("pin"), "00000000\n");
  auto p = make(bare_entry("token_label: " + hsm->token_label() + ", pin_file: " + dir.file("pin") +
                           ", key_label: " + hsm->key_label()));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::permission_denied);
  EXPECT_NE(p.error().message().find("CKR_PIN_INCORRECT"), std::string::npos)
      << p.error().message();
  EXPECT_NE(p.error().message().find(dir.file("pin")), std::string::npos) << p.error().message();
  EXPECT_EQ(p.error().message().find("00000000"), std::string::npos);
}

TEST_F(Pkcs11Test, PinFromAnEnvironmentVariable) {
  ::setenv("TROUSSEAU_TEST_PKCS11_PIN", hsm->pin().c_str(), 1);
  auto p =
      make_ok(bare_entry("token_label: " + hsm->token_label() +
                         ", pin_env: TROUSSEAU_TEST_PKCS11_PIN, key_label: " + hsm->key_label()));
  ::unsetenv("TROUSSEAU_TEST_PKCS11_PIN");
  ASSERT_NE(p, nullptr);
  Error err = run([&](auto t) { return p->async_probe(options(), t); });
  EXPECT_TRUE(err.ok()) << err.message();

  auto unset =
      make(bare_entry("token_label: " + hsm->token_label() +
                      ", pin_env: TROUSSEAU_TEST_PKCS11_PIN, key_label: " + hsm->key_label()));
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.error().message().find("TROUSSEAU_TEST_PKCS11_PIN is not set"), std::string::npos)
      << unset.error().message();
}

TEST_F(Pkcs11Test, MissingKeyLabelFailsClearlyAtCreate) {
  auto p = make(bare_entry("token_label: " + hsm->token_label() + ", pin_file: " + hsm->pin_file() +
                           ", key_label: no-such-key"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), Code::failed_precondition);
  EXPECT_NE(p.error().message().find("no AES secret key labelled 'no-such-key'"), std::string::npos)
      << p.error().message();
  EXPECT_NE(p.error().message().find(hsm->token_label()), std::string::npos) << p.error().message();
}

TEST_F(Pkcs11Test, PinWrittenInTheYamlIsAConfigError) {
  auto p = make(entry("pin: '987654'"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("providers[0].pin: the PIN must not be written"),
            std::string::npos)
      << p.error().message();
  EXPECT_EQ(p.error().message().find("987654"), std::string::npos);
  EXPECT_EQ(p.error().message().find("unknown field"), std::string::npos);
}

TEST_F(Pkcs11Test, ProbeSucceeds) {
  auto p = make_ok(entry());
  ASSERT_NE(p, nullptr);
  Error err = run([&](auto t) { return p->async_probe(options(), t); });
  EXPECT_TRUE(err.ok()) << err.message();
}

/// A suffix of its own for each key a test adds to the process's token, so
/// that the tests also pass when repeated in one process (--gtest_repeat).
std::string fresh_suffix() {
  static int n = 0;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", ++n & 0xff);
  return buf;
}

TEST_F(Pkcs11Test, IdentityNamesTheSerialAndIdAndNotKeyMaterial) {
  const Bytes value = to_bytes("0123456789abcdef0123456789abcdef");
  const std::string suffix = fresh_suffix();
  ASSERT_NO_THROW(hsm->add_aes_key("known-value-" + suffix, "c0ffee" + suffix, value));
  auto p = make_ok(bare_entry("token_label: " + hsm->token_label() + ", pin_file: " +
                              hsm->pin_file() + ", key_label: known-value-" + suffix));
  ASSERT_NE(p, nullptr);
  const std::string id = p->key_identity();
  EXPECT_EQ(id, "pkcs11:" + hsm->serial() + ":c0ffee" + suffix);
  EXPECT_FALSE(hsm->serial().empty());
  EXPECT_EQ(id.find(hex_encode(value)), std::string::npos);
  EXPECT_EQ(id.find(base64_encode(value)), std::string::npos);
  EXPECT_EQ(id.find(as_chars(value)), std::string::npos);
  // The audit judges shares by this identity from the settings alone.
  const std::string cka_hex = "c0ffee" + suffix;
  Bytes cka_id;
  for (std::size_t i = 0; i + 1 < cka_hex.size(); i += 2) {
    cka_id.push_back(static_cast<std::uint8_t>(std::stoul(cka_hex.substr(i, 2), nullptr, 16)));
  }
  ASSERT_EQ(hex_encode(cka_id), cka_hex);
  EXPECT_TRUE(may_be_key_with_id(id, cka_id));
  cka_id.back() ^= 1;
  EXPECT_FALSE(may_be_key_with_id(id, cka_id));
}

TEST_F(Pkcs11Test, KeyWithoutAnIdIsIdentifiedByItsLabel) {
  const std::string label = "label-only-" + fresh_suffix();
  ASSERT_NO_THROW(hsm->add_aes_key(label, ""));
  auto p = make_ok(bare_entry("token_label: " + hsm->token_label() +
                              ", pin_file: " + hsm->pin_file() + ", key_label: " + label));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->key_identity(), "pkcs11:" + hsm->serial() + ":label:" + label);
}

TEST_F(Pkcs11Test, UnwrapForAnotherKeyIdentityIsRefusedAsBadData) {
  auto p = make_ok(entry());
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = run([&](auto t) { return p->async_wrap(options(), context(), share.view(), t); });
  ASSERT_TRUE(err.ok()) << err.message();
  auto [e2, s2] =
      run([&, &w = w](auto t) { return p->async_unwrap(options(), context(), "pkcs11:other:01", w.wrapped, t); });
  EXPECT_EQ(e2.code(), Code::invalid_argument) << e2.message();
}

TEST_F(Pkcs11Test, TwoProvidersOnOneModuleShareOneInitialization) {
  auto a = make_ok(entry());
  auto b = make_ok(entry("sessions: 1"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a.reset();  // must not finalize the module under b
  Error err = run([&](auto t) { return b->async_probe(options(), t); });
  EXPECT_TRUE(err.ok()) << err.message();
}

TEST_F(Pkcs11Test, SessionsClosedUnderneathAreReopenedAndLoggedIn) {
  auto p = make_ok(entry("sessions: 2"));
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(run([&](auto t) { return p->async_probe(options(), t); }).ok());
  {
    // The same application state as the provider's: this logs it out too.
    auto module = Module::load(hsm->module_path());
    ASSERT_TRUE(module.ok());
    ASSERT_EQ((*module)->api().C_CloseAllSessions(hsm->slot()), static_cast<CK_RV>(CKR_OK));
  }
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = run([&](auto t) { return p->async_wrap(options(), context(), share.view(), t); });
  ASSERT_TRUE(err.ok()) << err.message();
  auto [e2, back] =
      run([&, &w = w](auto t) { return p->async_unwrap(options(), context(), w.key_version, w.wrapped, t); });
  ASSERT_TRUE(e2.ok()) << e2.message();
  EXPECT_TRUE(back.equals(share.view()));
}

TEST_F(Pkcs11Test, ErrorsNameTheCauseButNotTheProvider) {
  // The engine, and the server at start-up, put the provider's name in
  // front once; a provider that adds it too says it twice.
  auto named = [](const Error& e) {
    return e.message().find("pkcs11 hsm") != std::string::npos ||
           e.message().rfind("hsm:", 0) == 0;
  };
  testkit::TempDir dir;
  testkit::write_file(dir.file("pin"), "00000000\n");
  auto bad_pin = make(bare_entry("token_label: " + hsm->token_label() +
                                 ", pin_file: " + dir.file("pin") + ", key_label: " + hsm->key_label()));
  ASSERT_FALSE(bad_pin.ok());
  EXPECT_FALSE(named(bad_pin.error())) << bad_pin.error().message();
  EXPECT_NE(bad_pin.error().message().find("C_Login: CKR_PIN_INCORRECT"), std::string::npos)
      << bad_pin.error().message();

  auto p = make_ok(entry());
  ASSERT_NE(p, nullptr);
  SecretBytes share = SecretBytes::random(32);
  auto [err, w] = wrap(*p, share.view());
  ASSERT_TRUE(err.ok()) << err.message();
  Bytes bad = w.wrapped;
  bad.back() ^= 0x01;
  auto [tampered, s1] = unwrap(*p, WrapResult{bad, w.key_version});
  EXPECT_EQ(tampered.code(), Code::integrity);
  EXPECT_FALSE(named(tampered)) << tampered.message();
  auto [foreign, s2] = unwrap(*p, WrapResult{w.wrapped, "pkcs11:other:01"});
  EXPECT_EQ(foreign.code(), Code::invalid_argument);
  EXPECT_FALSE(named(foreign)) << foreign.message();

  // Cancelled while the token holds it, so the cancellation wins for sure.
  auto counted = make_ok(counted_entry("pin_file: " + hsm->pin_file()));
  ASSERT_NE(counted, nullptr);
  testkit::EncryptGate gate;
  asio::cancellation_signal cancel;
  std::promise<Error> cancelled;
  asio::post(io, [&] {
    counted->async_probe(options(), asio::bind_cancellation_slot(
                                        cancel.slot(), asio::bind_executor(io, [&](Error e) {
                                          cancelled.set_value(std::move(e));
                                        })));
  });
  gate.wait_until_held(1);
  asio::post(io, [&] { cancel.emit(asio::cancellation_type::terminal); });
  Error c = cancelled.get_future().get();
  EXPECT_EQ(c.code(), Code::cancelled);
  EXPECT_FALSE(named(c)) << c.message();
}

}  // namespace
}  // namespace trousseau::providers::pkcs11
