// Reader: syntax, positions, errors, chunked input, depth limits.
#include "interp/reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "interp/dict.h"
#include "interp/equal.h"
#include "interp/native.h"
#include "interp/printer.h"
#include "interp/state.h"

namespace sx::interp {
namespace {

class ReaderTest : public ::testing::Test {
 protected:
  State S;

  // All top-level forms of `text`, fed at once.
  std::vector<Value> ReadAll(std::string_view text) {
    Reader r(S, "test.sx");
    r.Feed(text);
    r.Finish();
    std::vector<Value> out;
    Value v;
    Reader::Status st;
    while ((st = r.Next(&v)) == Reader::Status::kValue) out.push_back(v);
    EXPECT_EQ(st, Reader::Status::kEnd) << r.error().message;
    return out;
  }

  Value Read(std::string_view text) { return ReadString(S, text); }
  std::string Show(std::string_view text) { return Inspect(S, Read(text)); }

  // The error reading `text` gives, fed at once.
  ReadError ErrorOf(std::string_view text) {
    Reader r(S, "test.sx");
    r.Feed(text);
    r.Finish();
    Value v;
    Reader::Status st;
    while ((st = r.Next(&v)) == Reader::Status::kValue) {
    }
    EXPECT_EQ(st, Reader::Status::kError) << "no error for: " << text;
    return r.error();
  }

  std::string MessageOf(std::string_view text) { return ErrorOf(text).message; }

  Value Sym(const char* name) { return Value::Object(S.heap.Intern(name)); }
  Value Kw(const char* name) { return Value::Object(S.heap.InternKeyword(name)); }
};

TEST_F(ReaderTest, Immediates) {
  EXPECT_TRUE(Read("nil").IsNil());
  EXPECT_TRUE(Read("true").IsTrue());
  EXPECT_TRUE(Read("false").IsFalse());
  EXPECT_TRUE(Read("()").IsEmptyList());
  EXPECT_TRUE(Read("  ; comment\n () ; trailing").IsEmptyList());
}

TEST_F(ReaderTest, Integers) {
  EXPECT_EQ(AsInt(Read("42")), 42);
  EXPECT_EQ(AsInt(Read("-7")), -7);
  EXPECT_EQ(AsInt(Read("+3")), 3);
  EXPECT_EQ(AsInt(Read("-0")), 0);
  EXPECT_EQ(AsInt(Read("9223372036854775807")), INT64_MAX);
  EXPECT_EQ(AsInt(Read("-9223372036854775808")), INT64_MIN);
  EXPECT_EQ(AsInt(Read("140737488355328")), int64_t{1} << 47);  // first boxed value
  EXPECT_TRUE(IsInt(Read("007")));
}

TEST_F(ReaderTest, IntegerOverflowIsAnError) {
  EXPECT_EQ(MessageOf("9223372036854775808"), "integer out of range");
  EXPECT_EQ(MessageOf("-9223372036854775809"), "integer out of range");
  EXPECT_EQ(MessageOf("(1 2\n  99999999999999999999)"), "integer out of range");
  EXPECT_EQ(ErrorOf("(1 2\n  99999999999999999999)").pos.line, 2u);
  EXPECT_EQ(ErrorOf("(1 2\n  99999999999999999999)").pos.col, 3u);
}

TEST_F(ReaderTest, Floats) {
  EXPECT_EQ(Read("3.5").AsFloat(), 3.5);
  EXPECT_EQ(Read("1e-3").AsFloat(), 1e-3);
  EXPECT_EQ(Read("1E3").AsFloat(), 1000.0);
  EXPECT_TRUE(Read("1e3").IsFloat());
  EXPECT_EQ(Read(".5").AsFloat(), 0.5);
  EXPECT_EQ(Read("-.5").AsFloat(), -0.5);
  EXPECT_EQ(Read("5.").AsFloat(), 5.0);
  EXPECT_EQ(Read("+2.5e+2").AsFloat(), 250.0);
  Value nz = Read("-0.0");
  ASSERT_TRUE(nz.IsFloat());
  EXPECT_TRUE(std::signbit(nz.AsFloat()));
  EXPECT_TRUE(std::isnan(Read("##NaN").AsFloat()));
  EXPECT_EQ(Read("##Inf").AsFloat(), INFINITY);
  EXPECT_EQ(Read("##-Inf").AsFloat(), -INFINITY);
  EXPECT_EQ(Read("4.9406564584124654e-324").AsFloat(), 4.9406564584124654e-324);
  EXPECT_EQ(Read("1e-400").AsFloat(), 0.0);  // underflow rounds to zero
  EXPECT_TRUE(std::signbit(Read("-1e-400").AsFloat()));
  EXPECT_EQ(MessageOf("1e400"), "number out of range");
}

TEST_F(ReaderTest, NumberLikeTokens) {
  EXPECT_EQ(Read("-"), Sym("-"));
  EXPECT_EQ(Read("+"), Sym("+"));
  EXPECT_EQ(Read("->"), Sym("->"));
  EXPECT_EQ(Read("-x"), Sym("-x"));
  EXPECT_EQ(Read("..."), Sym("..."));
  EXPECT_EQ(Read("."), Sym("."));
  EXPECT_EQ(Read("inf"), Sym("inf"));
  EXPECT_EQ(Read("nan"), Sym("nan"));
  EXPECT_EQ(MessageOf("1+"), "invalid number 1+");
  EXPECT_EQ(MessageOf("1.2.3"), "invalid number 1.2.3");
  EXPECT_EQ(MessageOf("1e"), "invalid number 1e");
  EXPECT_EQ(MessageOf("0x10"), "invalid number 0x10");
  EXPECT_EQ(MessageOf("-5abc"), "invalid number -5abc");
}

TEST_F(ReaderTest, SymbolsAndKeywords) {
  for (const char* name : {"foo", "persist/append", "kv-has?", "set!", "~card", "$global",
                           "<=", "a.b", "a#b", "a:b", "λ", "日本"}) {
    EXPECT_EQ(Read(name), Sym(name)) << name;
  }
  EXPECT_EQ(Read(":seq"), Kw("seq"));
  EXPECT_EQ(Read(":1"), Kw("1"));
  EXPECT_EQ(Read(":nil"), Kw("nil"));
  EXPECT_EQ(Read("|hello world|"), Sym("hello world"));
  EXPECT_EQ(Read("||"), Sym(""));
  EXPECT_EQ(Read("|a\\|b|"), Sym("a|b"));
  EXPECT_EQ(Read("|42|"), Sym("42"));
  EXPECT_EQ(Read("|nil|"), Sym("nil"));
  EXPECT_EQ(Read(":|a b|"), Kw("a b"));
  EXPECT_EQ(MessageOf(":"), "expected a keyword name after ':'");
}

TEST_F(ReaderTest, Strings) {
  EXPECT_EQ(StringView(Read(R"("a\"b\n\t\\ \u{e9}")")), "a\"b\n\t\\ \xc3\xa9");
  EXPECT_EQ(StringView(Read(R"("\r\0x")")), std::string_view("\r\0x", 3));
  EXPECT_EQ(StringView(Read(R"("\xff\x00\x41")")), std::string_view("\xff\0A", 3));
  EXPECT_EQ(StringView(Read(R"("\u{1F600}")")), "\xf0\x9f\x98\x80");
  EXPECT_EQ(StringView(Read("\"multi\nline\"")), "multi\nline");
  EXPECT_EQ(StringView(Read(R"("")")), "");
  EXPECT_EQ(MessageOf(R"("\q")"), "invalid escape \\q");
  EXPECT_EQ(MessageOf(R"("\x4")"), "invalid escape: \\x needs two hex digits");
  EXPECT_EQ(MessageOf(R"("\u41")"), "invalid escape: \\u needs {HEX}");
  EXPECT_EQ(MessageOf(R"("\u{}")"), "invalid escape: \\u{} is empty");
  EXPECT_EQ(MessageOf(R"("\u{D800}")"), "invalid escape: \\u{...} is not a Unicode scalar value");
  EXPECT_EQ(MessageOf(R"("\u{110000}")"), "invalid escape: \\u{...} is not a Unicode scalar value");
  EXPECT_EQ(MessageOf(R"("\u{1234567}")"), "invalid escape: \\u{...} needs 1 to 6 hex digits");
}

TEST_F(ReaderTest, ListsAndQuotes) {
  EXPECT_EQ(Show("(a (b c) \"d\" 1 2.5 :e)"), "(a (b c) \"d\" 1 2.5 :e)");
  EXPECT_EQ(Show("'x"), "(quote x)");
  EXPECT_EQ(Show("`(a ,b ,@c)"), "(quasiquote (a (unquote b) (unquote-splicing c)))");
  EXPECT_EQ(Show("''x"), "(quote (quote x))");
  EXPECT_EQ(Show("[1 2]"), "(1 2)");
  EXPECT_EQ(Show(", x"), "(unquote x)");
  EXPECT_EQ(Show("(a,b)"), "(a (unquote b))");
  EXPECT_EQ(Show("(a'b)"), "(a (quote b))");
}

TEST_F(ReaderTest, DictLiterals) {
  Value d = Read("{:stream \"s\" :seq 1 \"raw key\" (a b)}");
  ASSERT_TRUE(IsDict(d));
  EXPECT_EQ(DictCount(d), 3u);
  EXPECT_EQ(AsInt(DictGetView(S.heap, d, "seq")), 1);
  EXPECT_EQ(StringView(DictGetView(S.heap, d, "stream")), "s");
  EXPECT_EQ(Inspect(S, DictGetView(S.heap, d, "raw key")), "(a b)");
  EXPECT_EQ(Show("{}"), "{}");
  // Keys that are not literal strings or keywords: read as a (dict ...) call.
  EXPECT_EQ(Show("{k 1 :b 2}"), "(dict k 1 :b 2)");
  EXPECT_EQ(MessageOf("{:a 1 :b}"), "dict literal at 1:1 needs an even number of forms");
  EXPECT_EQ(MessageOf("{:a 1 \"a\" 2}"), "duplicate key \"a\" in dict literal at 1:1");
}

TEST_F(ReaderTest, ListPositionsAreRecorded) {
  Reader r(S, "f.sx");
  r.Feed("(a\n  (b c)\n   '(d))");
  r.Finish();
  Value v;
  ASSERT_EQ(r.Next(&v), Reader::Status::kValue);
  auto pos = [&](Value list) { return r.positions().at(list.AsObj()); };
  EXPECT_EQ(pos(v).line, 1u);
  EXPECT_EQ(pos(v).col, 1u);
  Value inner = Car(Cdr(v));
  EXPECT_EQ(pos(inner).line, 2u);
  EXPECT_EQ(pos(inner).col, 3u);
  Value quoted = Car(Cdr(Cdr(v)));
  EXPECT_EQ(pos(quoted).line, 3u);
  EXPECT_EQ(pos(quoted).col, 4u);
  EXPECT_EQ(pos(Car(Cdr(quoted))).col, 5u);
  EXPECT_EQ(r.filename(), "f.sx");
}

TEST_F(ReaderTest, ErrorsNameWhatAndWhere) {
  ReadError e = ErrorOf("(a b))");
  EXPECT_EQ(e.message, "unbalanced ')'");
  EXPECT_EQ(e.pos.line, 1u);
  EXPECT_EQ(e.pos.col, 6u);

  e = ErrorOf("(x\n  \"abc");
  EXPECT_EQ(e.message, "unterminated string starting at 2:3");
  EXPECT_EQ(e.pos.line, 2u);
  EXPECT_EQ(e.pos.col, 7u);

  e = ErrorOf("\n\n  (foo (bar)");
  EXPECT_EQ(e.message, "expected ')' to close '(' at 3:3");

  e = ErrorOf("(a ]");
  EXPECT_EQ(e.message, "expected ')' to close '(' at 1:1, got ']'");

  e = ErrorOf("(a ')");
  EXPECT_EQ(e.message, "expected a form after ' at 1:4, got ')'");
  EXPECT_EQ(MessageOf("`"), "expected a form after ` at 1:1");
  EXPECT_EQ(MessageOf(",@"), "expected a form after ,@ at 1:1");
  EXPECT_EQ(MessageOf(","), "expected a form after , at 1:1");
  EXPECT_EQ(MessageOf("|abc"), "unterminated |symbol| starting at 1:1");
  EXPECT_EQ(MessageOf("#<fn foo>"),
            "cannot read '#<fn': values printed as #<...> have no text form");
  EXPECT_EQ(MessageOf("#foo"), "invalid syntax '#foo'");
  EXPECT_EQ(MessageOf("a\x01"), "unexpected control character \\x01");

  e = ErrorOf("(ok \"\xc3\x28\")");
  EXPECT_EQ(e.message, "invalid UTF-8");
  EXPECT_EQ(e.pos.col, 7u);
  EXPECT_EQ(MessageOf("abc\xff"), "invalid UTF-8");
  EXPECT_EQ(MessageOf("abc\xc3"), "invalid UTF-8");
  EXPECT_EQ(MessageOf("; \xed\xa0\x80 surrogate in a comment\n"), "invalid UTF-8");
  EXPECT_EQ(MessageOf("\xc0\x80"), "invalid UTF-8");  // overlong
}

TEST_F(ReaderTest, ReadStringRaisesAnSxError) {
  EXPECT_THROW(Read("(a"), SxThrow);
  EXPECT_THROW(Read(""), SxThrow);
  EXPECT_THROW(Read("  ; nothing"), SxThrow);
  EXPECT_THROW(Read("1 2"), SxThrow);
  try {
    Read("(a\n  b))");
    FAIL();
  } catch (const SxThrow& t) {
    ASSERT_TRUE(IsError(t.value));
    Value msg = static_cast<ErrorObj*>(t.value.AsObj())->message;
    EXPECT_EQ(StringView(msg), "read error at 2:5: unbalanced ')'");
  }
}

TEST_F(ReaderTest, ReaderIsUnusableAfterAnError) {
  Reader r(S, "x");
  r.Feed(") (a)");
  Value v;
  EXPECT_EQ(r.Next(&v), Reader::Status::kError);
  EXPECT_EQ(r.Next(&v), Reader::Status::kError);
}

TEST_F(ReaderTest, MultipleFormsAndEnd) {
  auto forms = ReadAll("1 foo (a) \"s\" ; end\n:k");
  ASSERT_EQ(forms.size(), 5u);
  EXPECT_EQ(AsInt(forms[0]), 1);
  EXPECT_EQ(forms[1], Sym("foo"));
  EXPECT_EQ(forms[4], Kw("k"));
  EXPECT_TRUE(ReadAll("").empty());
  EXPECT_TRUE(ReadAll("  ; only a comment").empty());
}

// A token at the end of a chunk is not complete until a delimiter or Finish.
TEST_F(ReaderTest, TokensWaitForTheirEnd) {
  Reader r(S, "repl");
  Value v;
  r.Feed("12");
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  r.Feed("3");
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  r.Feed(" ");
  ASSERT_EQ(r.Next(&v), Reader::Status::kValue);
  EXPECT_EQ(AsInt(v), 123);
  r.Feed("abc");
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  r.Finish();
  ASSERT_EQ(r.Next(&v), Reader::Status::kValue);
  EXPECT_EQ(v, Sym("abc"));
  EXPECT_EQ(r.Next(&v), Reader::Status::kEnd);
  EXPECT_EQ(r.Next(&v), Reader::Status::kEnd);
}

TEST_F(ReaderTest, AtTopLevelDrivesTheReplPrompt) {
  Reader r(S, "repl");
  Value v;
  EXPECT_TRUE(r.AtTopLevel());
  r.Feed("(define (f x)\n");
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  EXPECT_FALSE(r.AtTopLevel());
  r.Feed("  \"a string\n");
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  EXPECT_FALSE(r.AtTopLevel());
  r.Feed("that goes on\" x)\n");
  ASSERT_EQ(r.Next(&v), Reader::Status::kValue);
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  EXPECT_TRUE(r.AtTopLevel());
  r.Feed("'");
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  EXPECT_FALSE(r.AtTopLevel());
  r.Feed("x ; comment");
  ASSERT_EQ(r.Next(&v), Reader::Status::kValue);
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  EXPECT_TRUE(r.AtTopLevel());
  r.Feed("\n1 (2");
  ASSERT_EQ(r.Next(&v), Reader::Status::kValue);
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  EXPECT_FALSE(r.AtTopLevel());
}

// Every way of cutting the input gives the same forms as reading it whole.
TEST_F(ReaderTest, ByteByByteFeedingMatchesWholeInput) {
  const std::string text =
      "(define (f x) ; comment\n  {:a \"s\\\"t\\u{e9}\" :b [1 2.5 -0.0]})\n"
      "'sym `(a ,b ,@c) |odd sym| :|odd kw| \"日本\" ##NaN -12 1e-3 nil";
  std::vector<Value> whole = ReadAll(text);
  ASSERT_EQ(whole.size(), 10u);
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}}) {
    Reader r(S, "chunks");
    std::vector<Value> got;
    Value v;
    for (size_t i = 0; i < text.size(); i += chunk) {
      r.Feed(std::string_view(text).substr(i, chunk));
      while (r.Next(&v) == Reader::Status::kValue) got.push_back(v);
    }
    r.Finish();
    Reader::Status st;
    while ((st = r.Next(&v)) == Reader::Status::kValue) got.push_back(v);
    EXPECT_EQ(st, Reader::Status::kEnd);
    ASSERT_EQ(got.size(), whole.size()) << "chunk " << chunk;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(Equal(got[i], whole[i])) << "chunk " << chunk << " form " << i;
    }
  }
}

TEST_F(ReaderTest, ErrorPositionIsTheSameWhenFedByteByByte) {
  const std::string text = "(a\n (b \"c\\q\"))";
  ReadError whole = ErrorOf(text);
  Reader r(S, "chunks");
  Value v;
  Reader::Status st = Reader::Status::kNeedMore;
  for (char c : text) {
    r.Feed(std::string_view(&c, 1));
    st = r.Next(&v);
    if (st == Reader::Status::kError) break;
  }
  ASSERT_EQ(st, Reader::Status::kError);
  EXPECT_EQ(r.error().message, whole.message);
  EXPECT_EQ(r.error().pos.line, whole.pos.line);
  EXPECT_EQ(r.error().pos.col, whole.pos.col);
  EXPECT_EQ(whole.message, "invalid escape \\q");
  EXPECT_EQ(whole.pos.line, 2u);
  EXPECT_EQ(whole.pos.col, 7u);
}

TEST_F(ReaderTest, NestingUpToTheLimitIsRead) {
  size_t depth = S.limits.max_read_depth;
  std::string text(depth, '(');
  text += "x";
  text.append(depth, ')');
  Value v = Read(text);
  for (size_t i = 1; i < depth; ++i) v = Car(v);
  EXPECT_EQ(Car(v), Sym("x"));
}

TEST_F(ReaderTest, MillionDeepNestingIsRefusedWithoutCrashing) {
  std::string text(1000000, '(');
  ReadError e = ErrorOf(text);
  EXPECT_EQ(e.message, "nesting deeper than 10000");
  EXPECT_EQ(e.pos.col, 10001u);
  EXPECT_EQ(MessageOf(std::string(1000000, '\'') + "x"), "nesting deeper than 10000");
  EXPECT_EQ(MessageOf(std::string(1000000, '{')), "nesting deeper than 10000");
}

TEST_F(ReaderTest, DepthLimitIsConfigurable) {
  S.limits.max_read_depth = 3;
  EXPECT_NO_THROW(Read("(((x)))"));
  EXPECT_EQ(MessageOf("((((x))))"), "nesting deeper than 3");
}

TEST_F(ReaderTest, PartialFormsSurviveCollection) {
  Reader r(S, "repl");
  Value v;
  r.Feed("(a \"long string to make garbage obvious\" (b c) {:k (d e)} ");
  EXPECT_EQ(r.Next(&v), Reader::Status::kNeedMore);
  for (int i = 0; i < 1000; ++i) S.heap.MakeString("garbage garbage garbage garbage");
  S.heap.Collect();
  for (int i = 0; i < 1000; ++i) S.heap.Cons(Value::SmallInt(i), Value::EmptyList());
  r.Feed("f)");
  ASSERT_EQ(r.Next(&v), Reader::Status::kValue);
  EXPECT_EQ(Inspect(S, v), "(a \"long string to make garbage obvious\" (b c) {:k (d e)} f)");
}

}  // namespace
}  // namespace sx::interp
