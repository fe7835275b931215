// What AWS sends the awskms provider (src/providers/awskms/): the KMS
// JSON answers (Encrypt, Decrypt, DescribeKey, ListKeyRotations), error
// answers in JSON, XML and headers, the STS AssumeRoleWithWebIdentity XML
// answer, the shared credentials file, and key identities read back from
// envelopes. The first byte picks the reader. Properties: refusals are
// error values with their documented codes; an answer naming another key
// is never accepted; an AWS message is cut at 512 bytes; accepted
// credentials are complete; xml_element() returns a view into its input.
#include <fuzzer/FuzzedDataProvider.h>

#include "check.hpp"
#include "providers/awskms/aws_error.hpp"
#include "providers/awskms/credentials.hpp"
#include "providers/awskms/key_metadata.hpp"
#include "providers/awskms/kms_messages.hpp"
#include "response.hpp"

using namespace trousseau;
using namespace trousseau::providers::awskms;

namespace {

const std::string kArn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

bool within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 8)) {
    case 0: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto blob = parse_encrypt_answer(body, kArn);
      if (blob.ok()) FUZZ_CHECK(!blob.value().empty());
      break;
    }
    case 1: {
      std::string body = in.ConsumeRemainingBytesAsString();
      auto plain = parse_decrypt_answer(body, kArn);
      (void)plain;
      break;
    }
    case 2: {
      auto key = parse_describe_key(in.ConsumeRemainingBytesAsString());
      if (key.ok()) {
        const KeyMetadata& m = key.value();
        // The identity built from what AWS said reads back to its ARN.
        const std::string identity = key_identity(m.arn, m.material, "");
        if (is_kms_arn(m.arn, "key")) FUZZ_CHECK(arn_of_identity(identity) == m.arn);
      }
      break;
    }
    case 3: {
      const std::string rotation = latest_rotation(in.ConsumeRemainingBytesAsString());
      FUZZ_CHECK(rotation.find_first_not_of("0123456789") == std::string::npos);
      if (!rotation.empty()) {
        FUZZ_CHECK(arn_of_identity(key_identity(kArn, "", rotation)) == kArn);
      }
      break;
    }
    case 4: {
      const http::Response r = fuzz::consume_response(in, 300);
      const AwsError e = parse_aws_error(r);
      FUZZ_CHECK(e.message.size() <= 512);
      FUZZ_CHECK(e.type.find('#') == std::string::npos);
      (void)aws_throttled(r);
      const Error mapped = map_aws_error("Decrypt", r);
      FUZZ_CHECK(!mapped.ok());
      break;
    }
    case 5: {
      auto creds = parse_assume_role_response(in.ConsumeRemainingBytesAsString());
      if (creds.ok()) {
        FUZZ_CHECK(!creds.value().access_key_id.empty());
        FUZZ_CHECK(creds.value().secret_access_key.size() > 0);
      }
      break;
    }
    case 6: {
      const std::string profile = in.ConsumeRandomLengthString(20);
      auto creds = parse_credentials_file(in.ConsumeRemainingBytesAsString(), profile,
                                          "/fuzz/credentials");
      if (creds.ok()) {
        FUZZ_CHECK(!creds.value().access_key_id.empty());
        FUZZ_CHECK(creds.value().secret_access_key.size() > 0);
      }
      break;
    }
    case 7: {
      const std::string tag = in.ConsumeRandomLengthString(24);
      const std::string xml = in.ConsumeRemainingBytesAsString();
      FUZZ_CHECK(within(xml_element(xml, tag), xml));
      break;
    }
    default: {
      // A key_version read back from an envelope: only exact identities
      // of a KMS key give an ARN, and that ARN is a KMS key ARN.
      const std::string identity = in.ConsumeRemainingBytesAsString();
      const std::string arn = arn_of_identity(identity);
      if (!arn.empty()) {
        FUZZ_CHECK(is_kms_arn(arn, "key"));
        FUZZ_CHECK(identity.starts_with(arn));
        (void)region_of_arn(arn);
      }
      break;
    }
  }
  return 0;
}
