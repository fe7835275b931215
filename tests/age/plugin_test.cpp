// The two state machines on scripted pipes, with keys that need no
// server: what age is sent for each outcome, command by command.
#include "age/plugin.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace trousseau::age {
namespace {

/// Wraps by prefixing "w:", unwraps what it wrapped; fails on request.
class ScriptedKeys final : public Keys {
 public:
  Result<WrappedKey> wrap(const std::string& who, bool identity, const SecretBytes& key) override {
    if (who == "bad") return unavailable("quorum unreachable: aws: timeout");
    Bytes body = to_bytes("w:");
    body.insert(body.end(), key.data(), key.data() + key.size());
    return WrappedKey{"scripted", {identity ? "id" : "r"}, body};
  }
  bool understands(const std::string& type) const override { return type == "scripted"; }
  Result<SecretBytes> unwrap(const std::string& identity, const Stanza& s) override {
    ++unwraps;
    if (identity == "bad") return unavailable("quorum unreachable: aws: timeout");
    return SecretBytes(s.body.view().subspan(2));
  }
  int unwraps = 0;
};

/// "type arg…" and a body, as it goes over the pipe.
std::string stanza(const std::string& head, const std::string& body = {}) {
  std::istringstream words(head);
  std::string type;
  words >> type;
  std::vector<std::string> args;
  for (std::string w; words >> w;) args.push_back(w);
  std::ostringstream out;
  write_stanza(out, type, args, as_bytes(body));
  return out.str();
}

TEST(AgePluginProtocol, RecipientV1SendsOneStanzaPerRecipientThenDone) {
  const std::string key(16, 'k');
  std::istringstream in(stanza("add-recipient r1") + stanza("extension-labels") +
                        stanza("wrap-file-key", key) + stanza("done") + stanza("ok"));
  std::ostringstream out;
  ScriptedKeys keys;
  EXPECT_EQ(run_recipient_v1(in, out, keys), 0);
  EXPECT_EQ(out.str(), stanza("recipient-stanza 0 scripted r", "w:" + key) + stanza("done"));
}

TEST(AgePluginProtocol, RecipientV1ReportsAFailureForThatRecipientWithItsReason) {
  std::istringstream in(stanza("add-recipient r1") + stanza("add-recipient bad") +
                        stanza("wrap-file-key", std::string(16, 'k')) + stanza("done") + stanza("ok") +
                        stanza("ok"));
  std::ostringstream out;
  ScriptedKeys keys;
  EXPECT_EQ(run_recipient_v1(in, out, keys), 1);
  EXPECT_NE(out.str().find(stanza("error recipient 1", "quorum unreachable: aws: timeout")),
            std::string::npos)
      << out.str();
}

TEST(AgePluginProtocol, IdentityV1IgnoresOtherTypesAndAnswersTheFileKey) {
  const std::string key(16, 'k');
  std::istringstream in(stanza("add-identity AGE-PLUGIN-X") + stanza("recipient-stanza 0 X25519 abc", "zz") +
                        stanza("recipient-stanza 0 scripted r", "w:" + key) + stanza("done") +
                        stanza("ok"));
  std::ostringstream out;
  ScriptedKeys keys;
  EXPECT_EQ(run_identity_v1(in, out, keys), 0);
  EXPECT_EQ(out.str(), stanza("file-key 0", key) + stanza("done"));
  EXPECT_EQ(keys.unwraps, 1);
}

TEST(AgePluginProtocol, IdentityV1ReportsWhyItsStanzaDidNotOpen) {
  std::istringstream in(stanza("add-identity bad") + stanza("recipient-stanza 0 scripted r", "w:x") +
                        stanza("done") + stanza("ok"));
  std::ostringstream out;
  ScriptedKeys keys;
  EXPECT_EQ(run_identity_v1(in, out, keys), 1);
  EXPECT_EQ(out.str(), stanza("error stanza 0", "quorum unreachable: aws: timeout"));
}

TEST(AgePluginProtocol, IdentityV1WithNoStanzaOfOursSaysNothingButDone) {
  std::istringstream in(stanza("add-identity AGE-PLUGIN-X") + stanza("recipient-stanza 0 X25519 abc", "zz") +
                        stanza("done"));
  std::ostringstream out;
  ScriptedKeys keys;
  EXPECT_EQ(run_identity_v1(in, out, keys), 0);
  EXPECT_EQ(out.str(), stanza("done"));
}

TEST(AgePluginProtocol, AClosedPipeEndsTheSessionWithAnInternalError) {
  std::istringstream in(stanza("add-recipient r1"));
  std::ostringstream out;
  ScriptedKeys keys;
  EXPECT_EQ(run_recipient_v1(in, out, keys), 1);
  EXPECT_EQ(out.str().rfind("-> error internal\n", 0), 0u) << out.str();
}

}  // namespace
}  // namespace trousseau::age
