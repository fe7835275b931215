// What Vault sends the vault provider (src/providers/vault/vault_api.cpp):
// transit encrypt, decrypt and key answers, login, renew and lookup
// answers, `{"errors": [...]}` bodies, and `vault:v<N>:` texts read back
// from envelopes. The first byte picks the reader. Properties: Vault's
// errors are cut at 512 bytes; a non-2xx answer is always an error; an
// accepted ciphertext has a version and a payload, and splitting it again
// gives the same; a key's versions are consistent.
#include <fuzzer/FuzzedDataProvider.h>

#include "check.hpp"
#include "common/bytes.hpp"
#include "providers/vault/vault_api.hpp"
#include "response.hpp"

using namespace trousseau;
using namespace trousseau::providers::vault;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto c = parse_encrypt_answer(body);
      if (c.ok()) {
        FUZZ_CHECK(c.value().version >= 1);
        FUZZ_CHECK(!c.value().blob.empty());
      }
      break;
    }
    case 1: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto plain = parse_decrypt_answer(body);
      (void)plain;
      break;
    }
    case 2: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto key = parse_key_answer(body);
      if (key.ok()) {
        const KeyInfo& k = key.value();
        FUZZ_CHECK(k.latest_version >= 1);
        FUZZ_CHECK(k.min_decryption_version >= 1 && k.min_decryption_version <= k.latest_version);
        (void)context_field(k);
      }
      break;
    }
    case 3: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto grant = parse_auth_answer(body);
      if (grant.ok()) {
        FUZZ_CHECK(grant.value().token != nullptr && grant.value().token->size() > 0);
        FUZZ_CHECK(grant.value().ttl.count() >= 0);
      }
      break;
    }
    case 4: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto grant = parse_lookup_answer(body, std::make_shared<const SecretBytes>());
      if (grant.ok()) FUZZ_CHECK(grant.value().ttl.count() >= 0);
      break;
    }
    case 5: {
      const http::Response r = fuzz::consume_response(in, 300);
      FUZZ_CHECK(vault_errors(r).size() <= 512);
      FUZZ_CHECK(!map_vault_error("decrypt", r).ok());
      break;
    }
    default: {
      const std::string text = in.ConsumeRemainingBytesAsString();
      auto split = split_ciphertext(text);
      if (split) {
        FUZZ_CHECK(split->first >= 1);
        const std::string again = "vault:v" + std::to_string(split->first) + ":" +
                                  std::string(split->second);
        FUZZ_CHECK(again == text);
      }
      break;
    }
  }
  return 0;
}
