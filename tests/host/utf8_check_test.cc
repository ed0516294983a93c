// utf8_check_test.cc — ValidUtf8 and LineAndColumn at their boundaries: the
// eight-byte ASCII skip, sequences cut at the end, overlong forms,
// surrogates, and the place reported for the first bad byte.
#include "host/ops/utf8_check.h"

#include <gtest/gtest.h>

#include <string>

namespace sx::host {
namespace {

size_t BadAt(const std::string& s) {
  size_t bad = 12345;
  EXPECT_FALSE(ValidUtf8(s, &bad)) << s;
  return bad;
}

TEST(Utf8Check, AcceptsAsciiAndMultibyteText) {
  size_t bad = 0;
  EXPECT_TRUE(ValidUtf8("", &bad));
  EXPECT_TRUE(ValidUtf8("plain ascii, longer than eight bytes", &bad));
  EXPECT_TRUE(ValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", &bad));  // é € 😀
  EXPECT_TRUE(ValidUtf8(std::string("nul\0inside", 10), &bad));
}

TEST(Utf8Check, FindsABadByteOnEitherSideOfTheAsciiSkip) {
  for (size_t at = 0; at < 20; ++at) {
    std::string s(20, 'a');
    s[at] = '\xff';
    EXPECT_EQ(BadAt(s), at);
  }
}

TEST(Utf8Check, RefusesASequenceCutShortAtTheEnd) {
  EXPECT_EQ(BadAt("abc\xc3"), 3u);
  EXPECT_EQ(BadAt("abcdefgh\xe2\x82"), 8u);
  EXPECT_EQ(BadAt("\xf0\x9f\x98"), 0u);
}

TEST(Utf8Check, RefusesOverlongFormsSurrogatesAndStrayContinuations) {
  EXPECT_EQ(BadAt("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(BadAt("\xe0\x80\xaf"), 0u);      // overlong '/'
  EXPECT_EQ(BadAt("x\xed\xa0\x80"), 1u);     // U+D800, a surrogate
  EXPECT_EQ(BadAt("ok\x80"), 2u);            // a continuation byte alone
  EXPECT_EQ(BadAt("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
}

TEST(Utf8Check, LineAndColumnCountLinesAndCodePoints) {
  size_t line = 0, col = 0;
  LineAndColumn("ab\ncd", 0, &line, &col);
  EXPECT_EQ(line, 1u);
  EXPECT_EQ(col, 1u);
  LineAndColumn("ab\ncd", 4, &line, &col);
  EXPECT_EQ(line, 2u);
  EXPECT_EQ(col, 2u);
  LineAndColumn("\xc3\xa9\xc3\xa9x", 4, &line, &col);  // after two two-byte characters
  EXPECT_EQ(col, 3u);
  LineAndColumn("a\nb", 99, &line, &col);  // past the end: the end
  EXPECT_EQ(line, 2u);
  EXPECT_EQ(col, 2u);
}

}  // namespace
}  // namespace sx::host
