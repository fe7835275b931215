// What Google sends the gcpkms provider (src/providers/gcpkms/): Cloud KMS
// encrypt and decrypt answers with their CRC32C fields, cryptoKeys.get,
// google.rpc.Status errors, and the credential files an operator mounts
// (a service-account key, an external-account file). The first byte picks
// the reader. Properties: an answer whose checksums do not match is never
// accepted and is reported `corrupt` with Code::unavailable; an accepted
// encrypt answer names a version; error messages are cut at 300 bytes; a
// non-2xx answer is always an error; a file refused is failed_precondition.
#include <fuzzer/FuzzedDataProvider.h>

#include "check.hpp"
#include "providers/gcpkms/google_auth.hpp"
#include "providers/gcpkms/kms_messages.hpp"
#include "response.hpp"

using namespace trousseau;
using namespace trousseau::providers::gcpkms;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0: {
      bool corrupt = false;
      auto answer = parse_encrypt_response(in.ConsumeRemainingBytesAsString(), corrupt);
      if (answer.ok()) {
        FUZZ_CHECK(!corrupt);
        FUZZ_CHECK(!answer.value().name.empty() && !answer.value().ciphertext.empty());
      } else if (corrupt) {
        FUZZ_CHECK(answer.error().code() == Code::unavailable);
      }
      break;
    }
    case 1: {
      bool corrupt = false;
      std::string body = in.ConsumeRemainingBytesAsString();
      auto plain = parse_decrypt_response(body, corrupt);
      if (plain.ok()) {
        FUZZ_CHECK(!corrupt);
      } else if (corrupt) {
        FUZZ_CHECK(plain.error().code() == Code::unavailable);
      }
      break;
    }
    case 2: {
      auto key = parse_crypto_key(in.ConsumeRemainingBytesAsString());
      (void)key;
      break;
    }
    case 3: {
      const GoogleError e = parse_google_error(in.ConsumeRemainingBytesAsString());
      FUZZ_CHECK(e.message.size() <= 300);
      break;
    }
    case 4: {
      const bool opening = in.ConsumeBool();
      const http::Response r = fuzz::consume_response(in, 300);
      FUZZ_CHECK(!map_kms_error("decrypt", r, opening).ok());
      break;
    }
    case 5: {
      const std::vector<std::uint8_t> json = in.ConsumeRemainingBytes<std::uint8_t>();
      auto key = parse_service_account_key(json);
      if (key.ok()) {
        FUZZ_CHECK(!key.value().client_email.empty() && !key.value().token_uri.empty());
      } else {
        FUZZ_CHECK(key.error().code() == Code::failed_precondition);
      }
      break;
    }
    default: {
      const std::vector<std::uint8_t> json = in.ConsumeRemainingBytes<std::uint8_t>();
      auto account = parse_external_account(json);
      if (account.ok()) {
        FUZZ_CHECK(!account.value().audience.empty() && !account.value().token_url.empty() &&
                   !account.value().subject_token_file.empty());
      } else {
        FUZZ_CHECK(account.error().code() == Code::failed_precondition);
      }
      break;
    }
  }
  return 0;
}
