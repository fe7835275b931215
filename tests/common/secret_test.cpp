#include "common/secret.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace trousseau {
namespace {

TEST(SecureWipeString, ZeroesTheBufferInPlaceThenClears) {
  std::string s(5000, 'x');  // beyond any small-string buffer
  const char* buffer = s.data();
  secure_wipe(s);
  EXPECT_TRUE(s.empty());
  // clear() keeps the allocation: the bytes that held the secret are zero.
  ASSERT_EQ(s.data(), buffer);
  EXPECT_TRUE(std::all_of(buffer, buffer + 5000, [](char c) { return c == '\0'; }));
}

TEST(SecureWipeString, KeepSizeZeroesTheBytesAndLeavesTheSize) {
  std::string s(100, 'p');
  const char* buffer = s.data();
  secure_wipe(s, AfterWipe::keep_size);
  ASSERT_EQ(s.data(), buffer);
  EXPECT_EQ(s, std::string(100, '\0'));
}

TEST(SecureWipeString, AcceptsAnEmptyString) {
  std::string s;
  secure_wipe(s);
  EXPECT_TRUE(s.empty());
  secure_wipe(s, AfterWipe::keep_size);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace trousseau
