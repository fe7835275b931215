// The JSON document between `encrypt --json` and `decrypt --json`.
#include <gtest/gtest.h>

#include "cli/ciphertext_document.hpp"

namespace trousseau::cli {
namespace {

TEST(CiphertextDocument, RoundTripsBinaryCiphertextKeyIdAndAnnotations) {
  CiphertextDocument doc;
  doc.ciphertext = std::string("TRS\x01\0\xff", 6);
  doc.key_id = "trousseau-0123";
  doc.annotations = {{"0.shares.trousseau.io", std::string("\0\x01\x02", 3)}};
  auto back = parse_ciphertext_document(to_json(doc));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->api, Api::v2);
  EXPECT_EQ(back->ciphertext, doc.ciphertext);
  EXPECT_EQ(back->key_id, doc.key_id);
  EXPECT_EQ(back->annotations, doc.annotations);
}

TEST(CiphertextDocument, AV1beta1DocumentHasOnlyApiAndCiphertext) {
  CiphertextDocument doc;
  doc.api = Api::v1beta1;
  doc.ciphertext = "c";
  EXPECT_EQ(to_json(doc), R"({"api":"v1beta1","ciphertext":"Yw=="})");
  auto back = parse_ciphertext_document(to_json(doc));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->api, Api::v1beta1);
}

TEST(CiphertextDocument, RefusesNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "input is not JSON"},
      {"[]", "not a JSON object"},
      {"{}", "no \"ciphertext\" field"},
      {R"({"ciphertext": 1})", "\"ciphertext\" must be a base64 string"},
      {R"({"ciphertext": "@@"})", "\"ciphertext\" is not valid base64"},
      {R"({"ciphertext": "Yw==", "api": "v3"})", "\"api\" must be \"v2\" or \"v1beta1\""},
      {R"({"ciphertext": "Yw==", "key_id": 7})", "\"key_id\" must be a string"},
      {R"({"ciphertext": "Yw==", "annotations": []})", "\"annotations\" must be an object"},
      {R"({"ciphertext": "Yw==", "annotations": {"a.b": "!"}})",
       "annotation \"a.b\" is not valid base64"},
      {R"({"ciphertext": "Yw==", "plaintext": "x"})", "unknown field \"plaintext\""},
      {R"({"ciphertext": "Yw==", "api": "v1beta1", "key_id": "k"})", "a v1beta1 document has no"},
  };
  for (const auto& [input, message] : cases) {
    auto doc = parse_ciphertext_document(input);
    ASSERT_FALSE(doc.ok()) << input;
    EXPECT_NE(doc.error().message().find(message), std::string::npos)
        << input << ": " << doc.error().message();
  }
}

}  // namespace
}  // namespace trousseau::cli
