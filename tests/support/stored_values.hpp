// Values as kube-apiserver stores them in etcd, built in the tests from the
// upstream layouts (k8s.io/apiserver's EncryptedObject for KMS v2, the
// length-prefixed DEK for KMS v1, the other transformers' prefixes), not
// from the code under test; and structurally valid envelopes to put in them.
#pragma once

#include <string>
#include <vector>

#include "envelope/format.hpp"

namespace trousseau::testkit {

/// `k8s:enc:kms:v2:<provider>:` and an EncryptedObject (HKDF seed source).
std::string stored_kms_v2(const std::string& provider, const std::string& dek,
                          const std::string& key_id = "trousseau-0123",
                          const std::string& data = std::string(40, 'd'));
/// `k8s:enc:kms:v1:<provider>:`, a 2-byte big-endian DEK length, the DEK, the data.
std::string stored_kms_v1(const std::string& provider, const std::string& dek,
                          const std::string& data = std::string(40, 'd'));
/// `k8s:enc:<transformer>:v1:<key name>:` and 48 bytes standing for the sealed object.
std::string stored_local(const std::string& transformer, const std::string& key_name);
/// An unencrypted Secret as apiserver's protobuf serializer writes it: "k8s\0" first.
std::string stored_plaintext_secret();

/// A structurally valid envelope (not authenticated: no key made it) with
/// threshold `k` and `slots`, each a list of provider names; slot i is x = i + 1,
/// each provider's key_version is "sha256:<name>".
std::string test_envelope(unsigned k, const std::vector<std::vector<std::string>>& slots);

/// A wrap of a test envelope: the provider, and the key version it names.
struct TestWrap {
  std::string provider;
  std::string key_version;
};
/// The same, with the key versions given.
std::string test_envelope_with_versions(unsigned k,
                                       const std::vector<std::vector<TestWrap>>& slots);

}  // namespace trousseau::testkit
