#include "common/text.hpp"

#include <gtest/gtest.h>

namespace trousseau {
namespace {

TEST(Quoted, EscapesWhatCouldForgeALogLine) {
  EXPECT_EQ(quote("plain"), "\"plain\"");
  EXPECT_EQ(quote("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(quote("a\\b"), "\"a\\\\b\"");
  // A client-supplied uid must not start a new log line or a new field.
  EXPECT_EQ(quote("x\nlevel=error msg=forged"), "\"x\\nlevel=error msg=forged\"");
  EXPECT_EQ(quote(std::string("\x00\x1b\x7f\xff", 4)), "\"\\x00\\x1b\\x7f\\xff\"");
}

TEST(Quoted, CutsLongValues) {
  const std::string q = quote(std::string(1000, 'a'), 10);
  EXPECT_EQ(q, "\"aaaaaaaaaa…\"");
}

TEST(Join, JoinsWithTheSeparator) {
  EXPECT_EQ(join({}), "");
  EXPECT_EQ(join({"a"}), "a");
  EXPECT_EQ(join({"a", "b", "c"}), "a, b, c");
  EXPECT_EQ(join({"a", "b"}, ","), "a,b");
}

}  // namespace
}  // namespace trousseau
