// Reading what kube-apiserver stores for a KMS provider: the frames are
// built here from the upstream layouts (kmsv2_storage.proto, the v1 length
// prefix), not from the parser's own code.
#include <gtest/gtest.h>

#include "kms/stored_value.hpp"
#include "kmsv2_storage.pb.h"

namespace trousseau::kms {
namespace {

using namespace std::string_literals;

std::string v2_object(const std::string& dek, const std::string& key_id = "kid",
                      std::uint32_t type = kDekSourceHkdfSeed) {
  ::kmsv2::storage::EncryptedObject o;
  o.set_encrypteddata("sealed-object");
  o.set_keyid(key_id);
  o.set_encrypteddeksource(dek);
  auto* a = o.add_annotations();
  a->set_key("0.shares.trousseau.io");
  a->set_value("first");
  a = o.add_annotations();
  a->set_key("0.shares.trousseau.io");  // a map entry repeated on the wire: the last wins
  a->set_value("second");
  o.set_encrypteddeksourcetype(static_cast<::kmsv2::storage::EncryptedDEKSourceType>(type));
  return o.SerializeAsString();
}

Result<StoredValue> parse(const std::string& value) { return parse_stored_value(as_bytes(value)); }

TEST(StoredValue, ReadsAKmsV2Value) {
  auto v = parse("k8s:enc:kms:v2:my-kms:" + v2_object("envelope"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->api, StoredApi::v2);
  EXPECT_EQ(v->provider, "my-kms");
  EXPECT_EQ(as_chars(v->encrypted_dek), "envelope");
  EXPECT_EQ(as_chars(v->encrypted_data), "sealed-object");
  EXPECT_EQ(v->key_id, "kid");
  EXPECT_EQ(v->dek_source_type, kDekSourceHkdfSeed);
  ASSERT_EQ(v->annotations.size(), 1u);
  EXPECT_EQ(as_chars(v->annotations.at("0.shares.trousseau.io")), "second");
  EXPECT_TRUE(check_stored_value(v.value()).ok());
}

TEST(StoredValue, ReadsAKmsV1ValueWhoseDataMayHoldAnything) {
  const std::string value =
      "k8s:enc:kms:v1:old:\x00\x03"
      "dek:data:\x00"s;
  auto v = parse(value);
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->api, StoredApi::v1);
  EXPECT_EQ(v->provider, "old");
  EXPECT_EQ(as_chars(v->encrypted_dek), "dek");
  EXPECT_EQ(as_chars(v->encrypted_data), ":data:\0"s);
  EXPECT_TRUE(check_stored_value(v.value()).ok());
}

TEST(StoredValue, RefusesNamingWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no k8s:enc: prefix"},
      {"{\"kind\":\"Secret\"}", "no k8s:enc: prefix"},
      {"k8s\0\x0a\x0d"s, "an unencrypted Kubernetes object"},
      {"k8s:enc:aesgcm:v1:key:...", "\"aesgcm\" transformer"},
      {"k8s:enc:kms:v9:p:x", "unknown KMS storage version \"v9\""},
      {"k8s:enc:kms:v2:", "not terminated by ':'"},
      {"k8s:enc:kms:v2::x", "empty provider name"},
      {"k8s:enc:kms:v2:p:", "malformed EncryptedObject"},
      {"k8s:enc:kms:v2:p:\x0a\x05"
       "ab",
       "malformed EncryptedObject"},
      {"k8s:enc:kms:v1:p:", "no DEK length"},
      {"k8s:enc:kms:v1:p:\x00\x00"s, "empty encrypted DEK"},
      {"k8s:enc:kms:v1:p:\x00\x09"
       "abc"s,
       "claims 9 bytes, 3 follow"},
  };
  for (const auto& [value, message] : cases) {
    auto v = parse(value);
    ASSERT_FALSE(v.ok()) << value;
    EXPECT_EQ(v.error().code(), Code::invalid_argument);
    EXPECT_NE(v.error().message().find(message), std::string::npos) << v.error().message();
  }
}

TEST(StoredValue, ApiserversReadChecksApplyToV2) {
  auto check = [](const std::string& object) {
    auto v = parse("k8s:enc:kms:v2:p:" + object);
    EXPECT_TRUE(v.ok());
    return v.ok() ? check_stored_value(v.value()) : Error(Code::internal, "unparsed");
  };
  EXPECT_NE(check(v2_object("env", "")).message().find("key_id of 0 bytes"), std::string::npos);
  EXPECT_NE(check(v2_object("env", std::string(1025, 'k'))).message().find("key_id of 1025 bytes"),
            std::string::npos);
  EXPECT_NE(check(v2_object(std::string(1025, 'e'))).message().find("ciphertext of 1025 bytes"),
            std::string::npos);
  EXPECT_NE(check(v2_object("env", "kid", 7)).message().find("unknown encryptedDEKSourceType 7"),
            std::string::npos);
  EXPECT_EQ(dek_source_type_name(7), "unknown (7)");
  EXPECT_EQ(dek_source_type_name(kDekSourceAesGcmKey), "AES_GCM_KEY");
}

}  // namespace
}  // namespace trousseau::kms

namespace trousseau::kms {
namespace {

TEST(StoredValue, ClassifiesEveryTransformerByItsPrefix) {
  using namespace std::string_literals;
  struct Case {
    std::string value;
    Storage storage;
    std::string transformer, name;
  };
  for (const Case& c : std::vector<Case>{
           {"k8s\0\x0a\x0c"s, Storage::identity, "", ""},
           {"{\"kind\":\"Widget\"}", Storage::identity, "", ""},
           {"", Storage::identity, "", ""},
           {"k8s:enc:aescbc:v1:key1:sealed", Storage::aescbc, "aescbc", "key1"},
           {"k8s:enc:aesgcm:v1:key2:sealed", Storage::aesgcm, "aesgcm", "key2"},
           {"k8s:enc:secretbox:v1:key3:sealed", Storage::secretbox, "secretbox", "key3"},
           {"k8s:enc:kms:v1:trousseau:\x00\x01x"s, Storage::kms_v1, "kms", "trousseau"},
           {"k8s:enc:kms:v2:trousseau:", Storage::kms_v2, "kms", "trousseau"},
           {"k8s:enc:kms:v3:trousseau:", Storage::unknown, "kms", "trousseau"},
           {"k8s:enc:aescbc:v1:unterminated", Storage::unknown, "aescbc", ""},
           {"k8s:enc:", Storage::unknown, "", ""},
       }) {
    const StorageClass got = classify_stored_value(as_bytes(c.value));
    EXPECT_EQ(got.storage, c.storage) << c.value;
    EXPECT_EQ(got.transformer, c.transformer) << c.value;
    EXPECT_EQ(got.name, c.name) << c.value;
  }
  EXPECT_EQ(to_string(Storage::kms_v2), "kms v2");
}

}  // namespace
}  // namespace trousseau::kms
