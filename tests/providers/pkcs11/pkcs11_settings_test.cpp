// Validation of the pkcs11 provider's configuration keys: no token needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "providers/pkcs11/pkcs11_provider.hpp"
#include "providers/pkcs11/settings.hpp"

namespace trousseau::providers::pkcs11 {
namespace {

bool has_error(const ::trousseau::settings::Diagnostics& d, const std::string& needle) {
  return std::any_of(d.errors().begin(), d.errors().end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

std::string all_errors(const ::trousseau::settings::Diagnostics& d) {
  std::string out;
  for (const std::string& e : d.errors()) out += e + "\n";
  return out;
}

TEST(Pkcs11Settings, ConfigErrorsCarryFieldPaths) {
  ::trousseau::settings::Diagnostics d;
  auto cfg = config::load_string(R"(
policy: {threshold: 1, slots: [{providers: [a, b]}]}
providers:
  - name: a
    type: pkcs11
    module: libsofthsm2.so
    token_label: t
    slot: 3
    pin_file: /run/pin
    pin_env: PIN
    key_id: xyz
    sessions: 0
    threads: 100
    thread_queue: 5000
    read_write: maybe
  - name: b
    type: pkcs11
    pin: "1234"
)",
                                 d);
  EXPECT_FALSE(cfg.has_value());
  const std::string all = all_errors(d);
  EXPECT_TRUE(has_error(d, "providers[0].module: must be an absolute path")) << all;
  EXPECT_TRUE(has_error(d, "providers[0].slot: give token_label or slot, not both")) << all;
  EXPECT_TRUE(has_error(d, "providers[0].pin_env: give pin_file or pin_env, not both")) << all;
  EXPECT_TRUE(has_error(d, "providers[0].key_id: must be an even number of hex digits")) << all;
  EXPECT_TRUE(has_error(d, "providers[0].sessions: must be between 1 and 64")) << all;
  EXPECT_TRUE(has_error(d, "providers[0].threads: must be between 1 and 64")) << all;
  EXPECT_TRUE(has_error(d, "providers[0].thread_queue: must be between 0 and 4096")) << all;
  EXPECT_TRUE(has_error(d, "providers[0].read_write: must be true or false")) << all;
  EXPECT_TRUE(has_error(d, "providers[1].module: is required")) << all;
  EXPECT_TRUE(has_error(d, "providers[1].token_label: one of token_label or slot is required"))
      << all;
  EXPECT_TRUE(has_error(d, "providers[1].pin: the PIN must not be written in the configuration"))
      << all;
  EXPECT_TRUE(has_error(d, "providers[1].pin_file: one of pin_file or pin_env is required")) << all;
  EXPECT_TRUE(has_error(d, "providers[1].key_label: one of key_label or key_id is required"))
      << all;
  EXPECT_FALSE(has_error(d, "1234")) << all;
  EXPECT_FALSE(has_error(d, "unknown field")) << all;
}

TEST(Pkcs11Settings, AcceptsAMinimalEntryAndAppliesDefaults) {
  ::trousseau::settings::Diagnostics d;
  auto cfg = config::load_string(R"(
policy: {threshold: 1, slots: [{providers: [hsm]}]}
providers:
  - {name: hsm, type: pkcs11, module: /usr/lib/softhsm/libsofthsm2.so, slot: 0,
     pin_env: HSM_PIN, key_id: 0A0b}
)",
                                 d);
  ASSERT_TRUE(cfg.has_value()) << all_errors(d);
}

TEST(Pkcs11Settings, ThreadQueueBoundsTheCallsWaitingForAThread) {
  auto thread_queue = [](const std::string& extra) -> std::optional<unsigned> {
    ::trousseau::settings::Diagnostics d;
    auto cfg = config::load_string(
        "policy: {threshold: 1, slots: [{providers: [hsm]}]}\nproviders:\n"
        "  - {name: hsm, type: pkcs11, module: /m.so, slot: 0, pin_env: P, key_id: '01'" +
            extra + "}\n",
        d);
    if (!cfg) return std::nullopt;
    return static_cast<const Settings&>(*cfg->providers.at(0).settings).thread_queue;
  };
  EXPECT_EQ(thread_queue(""), 64u);
  EXPECT_EQ(thread_queue(", thread_queue: 0"), 0u);
  EXPECT_EQ(thread_queue(", thread_queue: 4096"), 4096u);
  EXPECT_EQ(thread_queue(", thread_queue: -1"), std::nullopt);
}

// The identity format and the audit's reading of it live side by side
// (pkcs11_provider.hpp); the SoftHSM2 tests check it on real tokens.
TEST(Pkcs11Identity, NamesTheTokenSerialAndTheKeysIdOrLabel) {
  const Bytes id{0x4b, 0x01};
  EXPECT_EQ(format_key_identity("0123456789abcdef", id, "kek"), "pkcs11:0123456789abcdef:4b01");
  EXPECT_EQ(format_key_identity("0123456789abcdef", {}, "kek"),
            "pkcs11:0123456789abcdef:label:kek");
}

TEST(Pkcs11Identity, ASettingsCkaIdCanOnlyProveAShareForeign) {
  const Bytes id{0x4b, 0x01};
  const std::string mine = format_key_identity("serial-1", id, "");
  EXPECT_TRUE(may_be_key_with_id(mine, id));
  EXPECT_TRUE(may_be_key_with_id(format_key_identity("another-token", id, ""), id));
  EXPECT_TRUE(may_be_key_with_id(mine, std::nullopt));
  EXPECT_FALSE(may_be_key_with_id(format_key_identity("serial-1", Bytes{0x4b, 0x02}, ""), id));
  EXPECT_FALSE(may_be_key_with_id(format_key_identity("serial-1", Bytes{0x01}, ""), id))
      << "a shorter id that the configured one ends with";
  EXPECT_FALSE(may_be_key_with_id(format_key_identity("serial-1", {}, "4b01"), id));
  EXPECT_FALSE(may_be_key_with_id("arn:aws:kms:eu-west-1:1:key/4b01", id));
  EXPECT_FALSE(may_be_key_with_id("arn:aws:kms:eu-west-1:1:key/4b01", std::nullopt));
}

}  // namespace
}  // namespace trousseau::providers::pkcs11
