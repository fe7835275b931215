// Stanzas on the plugin pipe: the 64-column body lines, the short line
// that ends a body, and the canonical unpadded base64 age insists on.
#include "age/stanza.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace trousseau::age {
namespace {

std::string written(std::size_t body_size) {
  std::ostringstream out;
  write_stanza(out, "file-key", {"0"}, Bytes(body_size, 0xab));
  return out.str();
}

TEST(Stanza, ABodyThatFillsItsLastLineIsEndedByAnEmptyLine) {
  EXPECT_EQ(written(0), "-> file-key 0\n\n");
  std::string line;  // 48 bytes: 64 base64 characters, one full line
  for (int i = 0; i < 16; ++i) line += "q6ur";
  EXPECT_EQ(written(48), "-> file-key 0\n" + line + "\n\n");
  EXPECT_EQ(written(16), "-> file-key 0\nq6urq6urq6urq6urq6urqw\n");
}

TEST(Stanza, ReadsBackWhatItWritesOfEverySize) {
  for (std::size_t n : {0u, 1u, 16u, 47u, 48u, 49u, 96u, 200u}) {
    std::istringstream in(written(n));
    Result<Stanza> s = read_stanza(in);
    ASSERT_TRUE(s.ok()) << n << ": " << s.error().message();
    EXPECT_EQ(s->type, "file-key");
    EXPECT_EQ(s->args, std::vector<std::string>{"0"});
    EXPECT_TRUE(s->body.equals(Bytes(n, 0xab))) << n;
  }
}

TEST(Stanza, RefusesPaddingNonCanonicalBitsLongLinesEmptyArgumentsAndHugeBodies) {
  const std::string texts[] = {"-> x\nq6s=\n", "-> x\nq6t\n", "-> x\n" + std::string(65, 'A') + "\n",
                               "-> x  y\n\n", "x\n\n", "-> x\n" /* no end of body */};
  std::string huge = "-> x\n";
  for (int i = 0; i < 20000; ++i) huge += std::string(64, 'A') + "\n";  // 960 000 bytes, not ended
  {
    std::istringstream in(huge + "AA\n");
    EXPECT_TRUE(read_stanza(in).ok());
  }
  for (int i = 0; i < 2000; ++i) huge += std::string(64, 'A') + "\n";
  {
    std::istringstream in(huge + "AA\n");
    Result<Stanza> s = read_stanza(in);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("over 1 MiB"), std::string::npos);
  }
  for (const std::string& text : texts) {
    std::istringstream in(text);
    EXPECT_FALSE(read_stanza(in).ok()) << text;
  }
}

}  // namespace
}  // namespace trousseau::age
