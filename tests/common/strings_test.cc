#include "common/strings.h"

#include <gtest/gtest.h>

namespace hami {
namespace {

TEST(SplitTest, KeepsEmptyPiecesLikeGo) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string_view>{"a", "", "b"}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string_view>{""}));
  EXPECT_EQ(Split(";", ';'), (std::vector<std::string_view>{"", ""}));
}

TEST(ParseIntTest, StrictWholeString) {
  EXPECT_EQ(ParseInt64("42"), 42);
  EXPECT_EQ(ParseInt64("-7"), -7);
  EXPECT_EQ(ParseInt64("+7"), 7);
  for (const char* bad : {"", "+", "++1", " 1", "1 ", "1x", "0x10", "99999999999999999999"}) {
    EXPECT_FALSE(ParseInt64(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ParseInt32("2147483648").has_value());
  EXPECT_EQ(ParseInt32("-2147483648"), -2147483648LL);
}

TEST(ParseGoBoolTest, GoSpellings) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    EXPECT_EQ(ParseGoBool(t), true) << t;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    EXPECT_EQ(ParseGoBool(f), false) << f;
  for (const char* bad : {"", "yes", "tRUE", " true"})
    EXPECT_FALSE(ParseGoBool(bad).has_value()) << bad;
}

TEST(CaseAndListsTest, Basics) {
  EXPECT_TRUE(ContainsIgnoreCase("NVIDIA-Tesla T4", "t4"));
  EXPECT_TRUE(ContainsIgnoreCase("anything", ""));
  EXPECT_FALSE(ContainsIgnoreCase("A100", "V100"));
  EXPECT_EQ(SplitCommaList(" a, ,b ,"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Trim("\t x \n"), "x");
}

TEST(QuoteForErrorTest, TruncatesOnAUtf8Boundary) {
  EXPECT_EQ(QuoteForError("abc"), "\"abc\"");
  // "é" is two bytes; a cut after 3 bytes would split the second one.
  const std::string text = "aéé";
  const std::string quoted = QuoteForError(text, 4);
  EXPECT_EQ(quoted.rfind("\"a\xC3\xA9...", 0), 0u) << quoted;
  EXPECT_NE(quoted.find("..."), std::string::npos);
  EXPECT_EQ(quoted.find("\xC3\""), std::string::npos);  // no dangling lead byte
  EXPECT_NE(QuoteForError(std::string(100, 'x')).find("(100 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace hami
