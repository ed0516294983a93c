// Equal (equal?), NumericEqual (=) and Compare.
#include "interp/equal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "interp/dict.h"
#include "interp/native.h"
#include "interp/reader.h"
#include "interp/state.h"

namespace sx::interp {
namespace {

class EqualTest : public ::testing::Test {
 protected:
  State S;
  Value R(std::string_view text) { return ReadString(S, text); }
  bool Eq(std::string_view a, std::string_view b) { return Equal(R(a), R(b)); }
  bool NumEq(std::string_view a, std::string_view b) { return NumericEqual(R(a), R(b)); }
  int Cmp(std::string_view a, std::string_view b) { return Compare(S, R(a), R(b)); }
};

TEST_F(EqualTest, EqualIsStructuralAndExact) {
  EXPECT_TRUE(Eq("1", "1"));
  EXPECT_FALSE(Eq("1", "1.0"));
  EXPECT_TRUE(Eq("9223372036854775807", "9223372036854775807"));
  EXPECT_TRUE(Eq("\"abc\"", "\"abc\""));
  EXPECT_FALSE(Eq("\"abc\"", "\"abd\""));
  EXPECT_FALSE(Eq("\"a\"", ":a"));
  EXPECT_FALSE(Eq("a", ":a"));
  EXPECT_TRUE(Eq("(1 (2 \"x\") {:a [3]})", "(1 (2 \"x\") {:a (3)})"));
  EXPECT_FALSE(Eq("(1 2)", "(1 2 3)"));
  EXPECT_FALSE(Eq("()", "nil"));
  EXPECT_TRUE(Eq("{:a 1 :b 2}", "{\"b\" 2 :a 1}"));
  EXPECT_FALSE(Eq("{:a 1}", "{:a 1 :b 2}"));
  EXPECT_FALSE(Eq("{:a 1 :c 2}", "{:a 1 :b 2}"));
  EXPECT_FALSE(Eq("{:a 1}", "{:a 1.0}"));
  EXPECT_TRUE(Eq("##NaN", "##NaN"));
  EXPECT_FALSE(Eq("0.0", "-0.0"));
  EXPECT_TRUE(Eq("##-Inf", "##-Inf"));
}

TEST_F(EqualTest, NumericEqualComparesNumbersByValueAtAnyDepth) {
  EXPECT_TRUE(NumEq("1", "1.0"));
  EXPECT_TRUE(NumEq("(1 {:a 2})", "(1.0 {:a 2.0})"));
  EXPECT_TRUE(NumEq("0.0", "-0.0"));
  EXPECT_FALSE(NumEq("##NaN", "##NaN"));
  EXPECT_FALSE(NumEq("1", "1.5"));
  // 2^53 + 1 is not representable: the integer is not rounded to match.
  EXPECT_FALSE(NumEq("9007199254740993", "9007199254740992.0"));
  EXPECT_TRUE(NumEq("9007199254740992", "9007199254740992.0"));
  EXPECT_FALSE(NumEq("9223372036854775807", "9223372036854775808.0"));
  EXPECT_FALSE(NumEq("\"1\"", "1"));
}

TEST_F(EqualTest, CompareOrdersNumbersStringsAndLists) {
  EXPECT_EQ(Cmp("1", "2"), -1);
  EXPECT_EQ(Cmp("2", "1.5"), 1);
  EXPECT_EQ(Cmp("1", "1.0"), 0);
  EXPECT_EQ(Cmp("-1", "-0.5"), -1);
  EXPECT_EQ(Cmp("9007199254740993", "9007199254740992.0"), 1);
  EXPECT_EQ(Cmp("9223372036854775807", "1e19"), -1);
  EXPECT_EQ(Cmp("-9223372036854775808", "-1e19"), 1);
  EXPECT_EQ(Cmp("##-Inf", "-9223372036854775808"), -1);
  EXPECT_EQ(Cmp("##NaN", "##Inf"), 1);
  EXPECT_EQ(Cmp("##NaN", "##NaN"), 0);
  EXPECT_EQ(Cmp("5", "##NaN"), -1);
  EXPECT_EQ(Cmp("\"a\"", "\"b\""), -1);
  EXPECT_EQ(Cmp("\"ab\"", "\"a\""), 1);
  EXPECT_EQ(Cmp("\"\\xff\"", "\"a\""), 1);  // bytes compare unsigned
  EXPECT_EQ(Cmp("abc", "abd"), -1);
  EXPECT_EQ(Cmp(":b", ":a"), 1);
  EXPECT_EQ(Cmp("false", "true"), -1);
  EXPECT_EQ(Cmp("(1 2)", "(1 3)"), -1);
  EXPECT_EQ(Cmp("(1 2)", "(1 2 0)"), -1);
  EXPECT_EQ(Cmp("(1 (2 3))", "(1 (2 3))"), 0);
  EXPECT_EQ(Cmp("((1) 5)", "((1 0) 0)"), -1);
  EXPECT_EQ(Cmp("()", "(1)"), -1);
}

TEST_F(EqualTest, CompareRefusesUnorderedKinds) {
  EXPECT_THROW(Cmp("1", "\"a\""), SxThrow);
  EXPECT_THROW(Cmp("{:a 1}", "{:a 1}"), SxThrow);
  EXPECT_THROW(Cmp("(1 \"a\")", "(1 2)"), SxThrow);
  try {
    Cmp("1", "\"a\"");
  } catch (const SxThrow& t) {
    EXPECT_EQ(StringView(static_cast<ErrorObj*>(t.value.AsObj())->message),
              "cannot compare integer with string");
  }
}

TEST_F(EqualTest, DeepStructuresCompareIteratively) {
  const int depth = 1000000;
  Value a = Value::SmallInt(1), b = Value::SmallInt(1);
  for (int i = 0; i < depth; ++i) {
    a = S.heap.Cons(a, Value::EmptyList());
    b = S.heap.Cons(b, Value::EmptyList());
  }
  EXPECT_TRUE(Equal(a, b));
  EXPECT_TRUE(NumericEqual(a, b));
  EXPECT_EQ(Compare(S, a, b), 0);
  Value c = Value::SmallInt(2);
  for (int i = 0; i < depth; ++i) c = S.heap.Cons(c, Value::EmptyList());
  EXPECT_FALSE(Equal(a, c));
  EXPECT_EQ(Compare(S, a, c), -1);

  // A long flat list keeps the work stack small.
  Value flat1 = Value::EmptyList(), flat2 = Value::EmptyList();
  for (int i = 0; i < depth; ++i) {
    flat1 = S.heap.Cons(Value::SmallInt(i), flat1);
    flat2 = S.heap.Cons(Value::SmallInt(i), flat2);
  }
  EXPECT_TRUE(Equal(flat1, flat2));
  EXPECT_EQ(Compare(S, flat1, flat2), 0);
}

TEST_F(EqualTest, TypeNames) {
  EXPECT_STREQ(TypeName(R("nil")), "nil");
  EXPECT_STREQ(TypeName(R("true")), "boolean");
  EXPECT_STREQ(TypeName(R("1")), "integer");
  EXPECT_STREQ(TypeName(R("9223372036854775807")), "integer");
  EXPECT_STREQ(TypeName(R("1.5")), "number");
  EXPECT_STREQ(TypeName(R("\"s\"")), "string");
  EXPECT_STREQ(TypeName(R("s")), "symbol");
  EXPECT_STREQ(TypeName(R(":s")), "keyword");
  EXPECT_STREQ(TypeName(R("()")), "list");
  EXPECT_STREQ(TypeName(R("(1)")), "list");
  EXPECT_STREQ(TypeName(R("{}")), "dict");
  EXPECT_STREQ(TypeName(S.heap.MakeError(S.heap.MakeString("m"), Value::Nil())), "error");
  static const NativeSpec spec{"f", 0, 0, nullptr, "doc"};
  Value f = S.MakeNative(&spec);
  EXPECT_STREQ(TypeName(f), "fn");
  EXPECT_TRUE(IsCallable(f));
  EXPECT_FALSE(IsCallable(R("(1)")));
}

}  // namespace
}  // namespace sx::interp
