#include "support/stored_values.hpp"

#include <gtest/gtest.h>

#include "kmsv2_storage.pb.h"

namespace trousseau::testkit {

std::string stored_kms_v2(const std::string& provider, const std::string& dek,
                          const std::string& key_id, const std::string& data) {
  ::kmsv2::storage::EncryptedObject object;
  object.set_encrypteddata(data);
  object.set_keyid(key_id);
  object.set_encrypteddeksource(dek);
  object.set_encrypteddeksourcetype(::kmsv2::storage::HKDF_SHA256_XNONCE_AES_GCM_SEED);
  return "k8s:enc:kms:v2:" + provider + ":" + object.SerializeAsString();
}

std::string stored_kms_v1(const std::string& provider, const std::string& dek,
                          const std::string& data) {
  std::string out = "k8s:enc:kms:v1:" + provider + ":";
  out += static_cast<char>(dek.size() >> 8);
  out += static_cast<char>(dek.size() & 0xff);
  return out + dek + data;
}

std::string stored_local(const std::string& transformer, const std::string& key_name) {
  return "k8s:enc:" + transformer + ":v1:" + key_name + ":" + std::string(48, '\x5a');
}

std::string stored_plaintext_secret() {
  // runtime.Unknown: typeMeta {apiVersion "v1", kind "Secret"}, then raw bytes.
  using namespace std::string_literals;
  return "k8s\x00"s + "\x0a\x0c\x0a\x02v1\x12\x06Secret"s + "\x12\x08" + "raw-data"s;
}

std::string test_envelope(unsigned k, const std::vector<std::vector<std::string>>& slots) {
  std::vector<std::vector<TestWrap>> named;
  for (const auto& slot : slots) {
    named.emplace_back();
    for (const std::string& p : slot) named.back().push_back({p, "sha256:" + p});
  }
  return test_envelope_with_versions(k, named);
}

std::string test_envelope_with_versions(unsigned k,
                                       const std::vector<std::vector<TestWrap>>& slots) {
  envelope::Envelope env;
  env.threshold = static_cast<std::uint8_t>(k);
  env.nonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (std::size_t i = 0; i < slots.size(); ++i) {
    envelope::Slot slot{static_cast<std::uint8_t>(i + 1), {}};
    for (const TestWrap& w : slots[i]) slot.wraps.push_back({w.provider, w.key_version, Bytes(60, 0xa1)});
    env.slots.push_back(std::move(slot));
  }
  env.header_bytes = envelope::encode_header(env);
  env.sealed = Bytes(48, 0x5e);
  auto encoded = envelope::encode(env, {});
  EXPECT_TRUE(encoded.ok()) << (encoded.ok() ? "" : encoded.error().message());
  return encoded.ok() ? std::string(as_chars(encoded->ciphertext)) : std::string();
}

}  // namespace trousseau::testkit
