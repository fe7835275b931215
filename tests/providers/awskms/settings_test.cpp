// Validation of the awskms settings: field paths, no I/O.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/provider_entry.hpp"
#include "support/settings_errors.hpp"
#include "providers/registry.hpp"

namespace trousseau::providers::awskms {
namespace {

std::vector<std::string> errors_of(const std::string& settings) {
  return testkit::settings_errors("awskms", settings);
}

bool has(const std::vector<std::string>& errors, const std::string& needle) {
  return testkit::mentions(errors, needle);
}

TEST(AwsKmsSettings, AcceptsAKeyArnAndTakesItsRegion) {
  EXPECT_TRUE(errors_of("key_id: 'arn:aws:kms:eu-west-1:111122223333:key/abcd-1234', "
                        "cluster_name: prod")
                  .empty());
}

TEST(AwsKmsSettings, RequiresKeyIdClusterNameAndARegion) {
  auto e = errors_of("key_id: alias/x");
  EXPECT_TRUE(has(e, "providers[0].region")) << (e.empty() ? "" : e[0]);
  EXPECT_TRUE(has(e, "providers[0].cluster_name"));
  EXPECT_TRUE(has(errors_of("region: us-east-1, cluster_name: c"), "providers[0].key_id"));
}

TEST(AwsKmsSettings, RejectsARegionThatContradictsTheArn) {
  EXPECT_TRUE(has(errors_of("key_id: 'arn:aws:kms:eu-west-1:111122223333:key/k', "
                            "region: us-east-1, cluster_name: c"),
                  "providers[0].region"));
}

TEST(AwsKmsSettings, RejectsMalformedKeyIds) {
  EXPECT_TRUE(has(errors_of("key_id: 'not a key!', region: us-east-1, cluster_name: c"),
                  "providers[0].key_id"));
  EXPECT_TRUE(has(errors_of("key_id: 'arn:aws:s3:::bucket', region: us-east-1, cluster_name: c"),
                  "providers[0].key_id"));
}

TEST(AwsKmsSettings, AllowsPlainHttpToLoopbackOnly) {
  const std::string base = "key_id: alias/k, region: us-east-1, cluster_name: c, ";
  EXPECT_TRUE(errors_of(base + "endpoint: 'http://127.0.0.1:4566/'").empty());
  EXPECT_TRUE(errors_of(base + "endpoint: 'https://kms.example.com/'").empty());
  EXPECT_TRUE(has(errors_of(base + "endpoint: 'http://kms.example.com/'"),
                  "providers[0].endpoint"));
  EXPECT_TRUE(has(errors_of(base + "sts_endpoint: 'http://10.0.0.1/'"),
                  "providers[0].sts_endpoint"));
  EXPECT_TRUE(has(errors_of(base + "endpoint: 'ftp://x/'"), "providers[0].endpoint"));
}

TEST(AwsKmsSettings, ChecksTheRegionName) {
  for (const char* bad : {"US-EAST-1", "useast1", "us-east-", "-east-1"}) {
    EXPECT_TRUE(has(errors_of(std::string("key_id: alias/k, cluster_name: c, region: '") + bad + "'"),
                    "providers[0].region"))
        << bad;
  }
  for (const char* good : {"us-gov-west-1", "cn-north-1", "ap-southeast-2"}) {
    EXPECT_TRUE(errors_of(std::string("key_id: alias/k, cluster_name: c, region: ") + good).empty())
        << good;
  }
}

TEST(AwsKmsSettings, CaFileMustBeAbsolute) {
  EXPECT_TRUE(has(errors_of("key_id: alias/k, region: us-east-1, cluster_name: c, ca_file: ca.pem"),
                  "providers[0].ca_file"));
}

TEST(AwsKmsSettings, PreviousKeyIdsAreFullKeyArnsOfTheProvidersRegion) {
  const std::string base = "key_id: 'arn:aws:kms:eu-west-1:111122223333:key/current', cluster_name: c, ";
  EXPECT_TRUE(errors_of(base + "previous_key_ids: ['arn:aws:kms:eu-west-1:111122223333:key/old', "
                               "'arn:aws:kms:eu-west-1:444455556666:key/older']")
                  .empty());
  auto e = errors_of(base + "previous_key_ids: ['arn:aws:kms:eu-west-1:111122223333:key/old', "
                            "alias/old, 1234abcd-12ab-34cd-56ef-1234567890ab, "
                            "'arn:aws:kms:eu-west-1:111122223333:alias/old', "
                            "'arn:aws:kms:us-east-1:111122223333:key/old']");
  EXPECT_FALSE(has(e, "providers[0].previous_key_ids[0]"));
  EXPECT_TRUE(has(e, "providers[0].previous_key_ids[1]"));
  EXPECT_TRUE(has(e, "providers[0].previous_key_ids[2]"));
  EXPECT_TRUE(has(e, "providers[0].previous_key_ids[3]"));
  EXPECT_TRUE(has(e, "providers[0].previous_key_ids[4]: is in region us-east-1"));
  EXPECT_TRUE(has(errors_of(base + "previous_key_ids: 'arn:aws:kms:eu-west-1:111122223333:key/old'"),
                  "providers[0].previous_key_ids"));
}

TEST(AwsKmsSettings, HasNoTimeoutsOfItsOwn) {
  // Every call runs within the caller's deadline; the generic provider
  // `timeout` (read by the engine, not here) bounds it.
  const std::string base = "key_id: alias/k, region: us-east-1, cluster_name: c, ";
  EXPECT_TRUE(has(errors_of(base + "request_timeout: 5s"), "providers[0].request_timeout: unknown field"));
  EXPECT_TRUE(has(errors_of(base + "sts_timeout: 5s"), "providers[0].sts_timeout: unknown field"));
}

}  // namespace
}  // namespace trousseau::providers::awskms
