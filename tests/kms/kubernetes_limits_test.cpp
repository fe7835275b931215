#include "kms/kubernetes_limits.hpp"

#include <gtest/gtest.h>

namespace trousseau::kms {
namespace {

TEST(KubernetesLimits, AnnotationKeysMustBeFullyQualifiedDomainNames) {
  EXPECT_TRUE(is_fully_qualified_domain_name("0.shares.trousseau.io"));
  EXPECT_TRUE(is_fully_qualified_domain_name("a.b"));
  EXPECT_FALSE(is_fully_qualified_domain_name("trousseau"));        // one label
  EXPECT_FALSE(is_fully_qualified_domain_name("Shares.trousseau.io"));  // uppercase
  EXPECT_FALSE(is_fully_qualified_domain_name("trousseau.io/share"));
  EXPECT_FALSE(is_fully_qualified_domain_name("-a.trousseau.io"));
  EXPECT_FALSE(is_fully_qualified_domain_name("a..io"));
  EXPECT_FALSE(is_fully_qualified_domain_name(std::string(64, 'a') + ".io"));
  EXPECT_FALSE(is_fully_qualified_domain_name(std::string(250, 'a').replace(60, 1, ".") + ".io"));
}

TEST(KubernetesLimits, ResponseChecks) {
  EXPECT_TRUE(check_v2_encrypt_response("c", "k", {}).ok());
  EXPECT_FALSE(check_v2_encrypt_response("", "k", {}).ok());
  EXPECT_FALSE(check_v2_encrypt_response(std::string(1025, 'c'), "k", {}).ok());
  EXPECT_FALSE(check_v2_encrypt_response("c", "", {}).ok());
  EXPECT_FALSE(check_v2_encrypt_response("c", std::string(1025, 'k'), {}).ok());
  EXPECT_FALSE(check_v2_encrypt_response("c", "k", {{"bad", "v"}}).ok());
  EXPECT_FALSE(check_v2_encrypt_response("c", "k", {{"a.io", std::string(32 * 1024, 'v')}}).ok());
  EXPECT_TRUE(check_v2_encrypt_response("c", "k", {{"a.io", std::string(32 * 1024 - 4, 'v')}}).ok());
}

}  // namespace
}  // namespace trousseau::kms
