// Validation of the pkcs11 provider's configuration keys: no token needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>

#include "config/config.hpp"
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

}  // namespace
}  // namespace trousseau::providers::pkcs11
