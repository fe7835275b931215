#include "common/log.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <vector>

namespace trousseau::log {
namespace {

constexpr std::string_view kTs = "2026-11-29T11:20:00.123Z";

std::string logfmt(std::string_view msg, std::vector<Field> fields) {
  return render(Format::logfmt, kTs, Level::warn, msg, fields);
}
std::string json(std::string_view msg, std::vector<Field> fields) {
  return render(Format::json, kTs, Level::warn, msg, fields);
}

TEST(Log, LogfmtWritesPlainValuesBareAndQuotesTheRest) {
  EXPECT_EQ(logfmt("degraded encrypt", {{"missing", "c"}, {"slots", 2}, {"why", "a b"}}),
            "2026-11-29T11:20:00.123Z level=warn msg=\"degraded encrypt\" missing=c slots=2 "
            "why=\"a b\"");
  EXPECT_EQ(logfmt("m", {{"empty", ""}, {"eq", "a=b"}, {"flag", true}}),
            std::string(kTs) + " level=warn msg=\"m\" empty=\"\" eq=\"a=b\" flag=true");
}

// A client-supplied uid must not start a new line or a field of its own.
TEST(Log, AnUntrustedValueCannotForgeAFieldOrALine) {
  const std::string forged = "x level=error msg=\"forged\"\n2026 level=error msg=owned";
  const std::string line = logfmt("rpc failed", {{"uid", forged}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line, std::string(kTs) + " level=warn msg=\"rpc failed\" uid=\"x level=error "
                                     "msg=\\\"forged\\\"\\n2026 level=error msg=owned\"");
  // Same in JSON: one object, the value intact as a string.
  const std::string j = json("rpc failed", {{"uid", forged}});
  EXPECT_EQ(j.find('\n'), std::string::npos);
  boost::json::value v = boost::json::parse(j);
  EXPECT_EQ(v.at("uid").as_string(), forged);
  EXPECT_EQ(v.at("level").as_string(), "warn");
}

TEST(Log, JsonIsValidWhateverBytesAValueHolds) {
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
  const std::string j = json("bytes", {{"raw", bytes}, {"n", 7}});
  boost::json::value v = boost::json::parse(j);  // throws on invalid JSON
  EXPECT_EQ(v.at("msg").as_string(), "bytes");
  EXPECT_EQ(v.at("n").as_int64(), 7);
  EXPECT_EQ(v.at("raw").as_string().size(), 256u + 128u);  // 0x80..0xff become two-byte code points
  EXPECT_EQ(v.at("ts").as_string(), kTs);
}

TEST(Log, LongValuesAreCut) {
  const std::string line = logfmt("m", {{"v", std::string(5000, 'a')}});
  EXPECT_LT(line.size(), kMaxValue + 100);
  EXPECT_NE(line.find("aaa…\""), std::string::npos);
  boost::json::value v = boost::json::parse(json("m", {{"v", std::string(5000, 'a')}}));
  EXPECT_EQ(v.at("v").as_string().size(), kMaxValue + 3);  // and "…" in UTF-8
}

TEST(Log, LevelFilters) {
  set_level(Level::warn);
  EXPECT_FALSE(enabled(Level::info));
  EXPECT_TRUE(enabled(Level::error));
  set_level(Level::info);
  EXPECT_TRUE(enabled(Level::info));
}

}  // namespace
}  // namespace trousseau::log
