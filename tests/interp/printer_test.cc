// Printer: text forms, and the round trip read(inspect(v)) == v.
#include "interp/printer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "interp/dict.h"
#include "interp/equal.h"
#include "interp/native.h"
#include "interp/reader.h"
#include "interp/state.h"

namespace sx::interp {
namespace {

// "k" + std::to_string(i), spelled so GCC 12 -O3 does not warn (-Wrestrict false positive).
std::string Numbered(const char* prefix, int64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

class PrinterTest : public ::testing::Test {
 protected:
  State S;

  std::string Show(Value v) { return Inspect(S, v); }
  Value Str(std::string_view s) { return S.heap.MakeString(s); }
  Value Sym(std::string_view s) { return Value::Object(S.heap.Intern(s)); }
  Value Kw(std::string_view s) { return Value::Object(S.heap.InternKeyword(s)); }
  Value List(std::initializer_list<Value> items) {
    return S.heap.ListFrom(items.begin(), items.size());
  }
  Value Dict(std::initializer_list<std::pair<const char*, Value>> entries) {
    Value d = DictEmpty(S.heap);
    for (auto& [k, v] : entries) d = DictAssoc(S.heap, d, AsString(Str(k)), v);
    return d;
  }

  // Inspect, read back, and compare; returns the text.
  std::string RoundTrip(Value v) {
    std::string text = Inspect(S, v);
    Value back = ReadString(S, text);
    EXPECT_TRUE(Equal(v, back)) << text << " read back as " << Inspect(S, back);
    EXPECT_EQ(Inspect(S, back), text);
    return text;
  }

  static double FromBits(uint64_t b) {
    double d;
    std::memcpy(&d, &b, 8);
    return d;
  }
};

TEST_F(PrinterTest, Atoms) {
  EXPECT_EQ(Show(Value::Nil()), "nil");
  EXPECT_EQ(Show(Value::True()), "true");
  EXPECT_EQ(Show(Value::False()), "false");
  EXPECT_EQ(Show(Value::EmptyList()), "()");
  EXPECT_EQ(Show(S.heap.MakeInt(42)), "42");
  EXPECT_EQ(Show(S.heap.MakeInt(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(Show(S.heap.MakeInt(INT64_MAX)), "9223372036854775807");
  EXPECT_EQ(Show(Kw("seq")), ":seq");
  EXPECT_EQ(Show(Sym("persist/append")), "persist/append");
}

TEST_F(PrinterTest, FloatsAlwaysReadBackAsFloats) {
  auto fmt = [](double d) {
    std::string s;
    FormatDouble(d, &s);
    return s;
  };
  EXPECT_EQ(fmt(1.0), "1.0");
  EXPECT_EQ(fmt(-0.0), "-0.0");
  EXPECT_EQ(fmt(0.0), "0.0");
  EXPECT_EQ(fmt(3.5), "3.5");
  EXPECT_EQ(fmt(0.1), "0.1");
  EXPECT_EQ(fmt(1e300), "1e+300");
  EXPECT_EQ(fmt(1e-7), "1e-07");
  EXPECT_EQ(fmt(123456789012345680.0), "123456789012345680.0");
  EXPECT_EQ(fmt(std::numeric_limits<double>::quiet_NaN()), "##NaN");
  EXPECT_EQ(fmt(INFINITY), "##Inf");
  EXPECT_EQ(fmt(-INFINITY), "##-Inf");
  EXPECT_EQ(Show(Value::Float(2.0)), "2.0");
}

TEST_F(PrinterTest, EveryDoubleClassRoundTripsBitExactly) {
  std::vector<double> samples = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.0,
                                 0.1,
                                 1.0 / 3.0,
                                 2.5e-308,
                                 std::numeric_limits<double>::min(),
                                 std::numeric_limits<double>::denorm_min(),
                                 -std::numeric_limits<double>::denorm_min(),
                                 std::numeric_limits<double>::max(),
                                 std::numeric_limits<double>::lowest(),
                                 std::numeric_limits<double>::epsilon(),
                                 FromBits(0x000fffffffffffffull),  // largest denormal
                                 9007199254740993.0,
                                 1e21,
                                 1e22,
                                 123456789.0,
                                 INFINITY,
                                 -INFINITY,
                                 std::numeric_limits<double>::quiet_NaN()};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) samples.push_back(FromBits(rng()));
  for (double d : samples) {
    Value v = Value::Float(d);
    std::string text = Show(v);
    Value back = ReadString(S, text);
    ASSERT_TRUE(back.IsFloat()) << text;
    if (std::isnan(d)) {
      EXPECT_TRUE(std::isnan(back.AsFloat())) << text;
    } else {
      EXPECT_EQ(back.Bits(), v.Bits()) << text;
    }
  }
}

TEST_F(PrinterTest, StringEscapes) {
  EXPECT_EQ(Show(Str("a\"b\\c")), R"("a\"b\\c")");
  EXPECT_EQ(Show(Str("\n\r\t")), R"("\n\r\t")");
  EXPECT_EQ(Show(Str(std::string_view("\0", 1))), R"("\0")");
  EXPECT_EQ(Show(Str("\x01\x1b\x7f")), R"("\u{1}\u{1b}\u{7f}")");
  EXPECT_EQ(Show(Str("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80")),
            "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Show(Str("\xff\xc3")), R"("\xff\xc3")");
  EXPECT_EQ(Show(Str("\xc3\x28")), R"("\xc3(")");
  EXPECT_EQ(Show(Str("\xed\xa0\x80")), R"("\xed\xa0\x80")");  // surrogate: not valid UTF-8
  EXPECT_EQ(Show(Str("|")), R"("|")");
}

TEST_F(PrinterTest, StringsWithEveryByteValueRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  RoundTrip(Str(all));
  for (int i = 0; i < 256; ++i) {
    std::string s = "a";
    s.push_back(static_cast<char>(i));
    s += "b";
    RoundTrip(Str(s));
    RoundTrip(Sym(s));
    RoundTrip(Kw(s));
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    RoundTrip(Str(s));
    RoundTrip(Sym(s));
    RoundTrip(Kw(s));
  }
}

TEST_F(PrinterTest, SymbolsThatWouldNotReadBackUseBars) {
  EXPECT_EQ(Show(Sym("hello world")), "|hello world|");
  EXPECT_EQ(Show(Sym("")), "||");
  EXPECT_EQ(Show(Sym("42")), "|42|");
  EXPECT_EQ(Show(Sym("-1.5")), "|-1.5|");
  EXPECT_EQ(Show(Sym("1+")), "|1+|");
  EXPECT_EQ(Show(Sym("nil")), "|nil|");
  EXPECT_EQ(Show(Sym("true")), "|true|");
  EXPECT_EQ(Show(Sym(":a")), "|:a|");
  EXPECT_EQ(Show(Sym("#x")), "|#x|");
  EXPECT_EQ(Show(Sym("a|b")), "|a\\|b|");
  EXPECT_EQ(Show(Sym("a(b")), "|a(b|");
  EXPECT_EQ(Show(Sym("-")), "-");
  EXPECT_EQ(Show(Sym("->")), "->");
  EXPECT_EQ(Show(Sym("λ")), "λ");
  EXPECT_EQ(Show(Kw("a b")), ":|a b|");
  EXPECT_EQ(Show(Kw("1")), ":1");
}

TEST_F(PrinterTest, ListsAndDicts) {
  EXPECT_EQ(Show(List({S.heap.MakeInt(1), Str("a"), List({Sym("b")}), Value::EmptyList()})),
            "(1 \"a\" (b) ())");
  Value d = Dict({{"b", Str("x")},
                  {"a", S.heap.MakeInt(1)},
                  {"odd key", Value::Nil()},
                  {"", Value::True()},
                  {"Z", Value::False()}});
  EXPECT_EQ(Show(d), "{\"\" true :Z false :a 1 :b \"x\" \"odd key\" nil}");
  EXPECT_EQ(Show(DictEmpty(S.heap)), "{}");
  RoundTrip(d);
}

TEST_F(PrinterTest, EqualDictsPrintIdentically) {
  Value a = DictEmpty(S.heap), b = DictEmpty(S.heap);
  for (int i = 0; i < 100; ++i) {
    a = DictAssoc(S.heap, a, AsString(Str(Numbered("k", i))), S.heap.MakeInt(i));
    b = DictAssoc(S.heap, b, AsString(Str(Numbered("k", 99 - i))), S.heap.MakeInt(99 - i));
  }
  EXPECT_EQ(Show(a), Show(b));
}

TEST_F(PrinterTest, DisplayShowsStringsRaw) {
  EXPECT_EQ(Display(S, Str("a\"b\n")), "a\"b\n");
  EXPECT_EQ(Display(S, List({Str("a")})), "(\"a\")");
  EXPECT_EQ(Display(S, Kw("k")), ":k");
  EXPECT_EQ(Display(S, Value::Float(1.0)), "1.0");
}

TEST_F(PrinterTest, ValuesWithoutTextForm) {
  Value err = S.heap.MakeError(Str("boom \"x\""), Value::Nil());
  EXPECT_EQ(Show(err), "#<error \"boom \\\"x\\\"\">");
  static const NativeSpec spec{"my-native", 0, 0, nullptr, "doc"};
  Value native = S.MakeNative(&spec);
  EXPECT_EQ(Show(native), "#<native my-native>");
  EXPECT_EQ(Show(Value::Undefined()), "#<undefined>");
  std::string out, error;
  EXPECT_FALSE(Serialize(S, native, &out, &error));
  EXPECT_EQ(error, "cannot serialize a function");
  EXPECT_EQ(out, "");
  EXPECT_FALSE(Serialize(S, err, &out, &error));
  EXPECT_EQ(error, "cannot serialize an error");
  EXPECT_THROW(ReadString(S, Show(native)), SxThrow);
}

TEST_F(PrinterTest, SerializeSaysWhereTheRefusedValueIs) {
  static const NativeSpec spec{"f", 0, 0, nullptr, "doc"};
  Value f = S.MakeNative(&spec);
  std::string out = "prefix:", error;
  EXPECT_FALSE(Serialize(S, Dict({{"a", S.heap.MakeInt(1)}, {"f", f}}), &out, &error));
  EXPECT_EQ(error, "cannot serialize a function (at key :f)");
  EXPECT_EQ(out, "prefix:");
  Value nested = Dict({{"events", List({Value::Nil(), Dict({{"odd key", f}})})}});
  EXPECT_FALSE(Serialize(S, nested, &out, &error));
  EXPECT_EQ(error, "cannot serialize a function (at key :events, index 1, key \"odd key\")");
  Value ok = Dict({{"a", List({Str("x"), Value::Float(-0.0)})}});
  EXPECT_TRUE(Serialize(S, ok, &out, &error));
  EXPECT_EQ(out, "prefix:{:a (\"x\" -0.0)}");
}

TEST_F(PrinterTest, DeepNestingPrintsWithoutRecursion) {
  const int depth = 1000000;
  Value v = Sym("x");
  for (int i = 0; i < depth; ++i) v = S.heap.Cons(v, Value::EmptyList());
  std::string text = Show(v);
  EXPECT_EQ(text.size(), 2u * depth + 1);
  EXPECT_EQ(text.substr(depth - 2, 5), "((x))");
  Value d = Value::Nil();
  for (int i = 0; i < depth; ++i) d = DictAssoc(S.heap, DictEmpty(S.heap), AsString(Str("k")), d);
  EXPECT_EQ(Show(d).size(), 5u * depth + 3);
  EXPECT_TRUE(Equal(d, d));
  EXPECT_TRUE(Equal(v, S.heap.Cons(Car(v), Value::EmptyList())));
}

// Serialize gives only text the reader takes back: up to the reader's depth
// limit, and not one level more.
TEST_F(PrinterTest, SerializeRefusesNestingTheReaderWouldRefuse) {
  const size_t limit = S.limits.max_read_depth;
  Value d = Value::Nil();
  for (size_t i = 0; i < limit; ++i)
    d = DictAssoc(S.heap, DictEmpty(S.heap), AsString(Str("k")), d);
  std::string out, error;
  ASSERT_TRUE(Serialize(S, d, &out, &error)) << error;
  EXPECT_TRUE(Equal(ReadString(S, out), d));
  Value deeper = S.heap.Cons(d, Value::EmptyList());
  out.clear();
  EXPECT_FALSE(Serialize(S, deeper, &out, &error));
  EXPECT_EQ(error, "nested deeper than " + std::to_string(limit));
  EXPECT_TRUE(out.empty());
}

// Random nested data: inspect, read back, equal, and print the same again.
class RandomData {
 public:
  RandomData(State& S, uint32_t seed) : S(S), rng_(seed) {}

  Value Make(int depth) {
    int kind = static_cast<int>(rng_() % (depth > 0 ? 12 : 9));
    switch (kind) {
      case 0:
        return Value::Nil();
      case 1:
        return Value::Bool(rng_() % 2);
      case 2:
        return S.heap.MakeInt(static_cast<int64_t>(rng_()) >> (rng_() % 64));
      case 3: {
        uint64_t bits = rng_();
        double d;
        std::memcpy(&d, &bits, 8);
        return Value::Float(rng_() % 2 ? d : static_cast<double>(rng_() % 1000) / 8);
      }
      case 4:
        return S.heap.MakeString(Bytes());
      case 5:
        return Value::Object(S.heap.Intern(Bytes()));
      case 6:
        return Value::Object(S.heap.InternKeyword(Bytes()));
      case 7:
        return Value::EmptyList();
      case 8:
        return S.heap.MakeString(Word());
      case 9:
      case 10: {
        std::vector<Value> items(rng_() % 6);
        for (Value& x : items) x = Make(depth - 1);
        return S.heap.ListFrom(items.data(), items.size());
      }
      default: {
        Value d = DictEmpty(S.heap);
        int n = static_cast<int>(rng_() % 6);
        for (int i = 0; i < n; ++i) {
          std::string k = rng_() % 2 ? Word() : Bytes();
          d = DictAssoc(S.heap, d, AsString(S.heap.MakeString(k)), Make(depth - 1));
        }
        return d;
      }
    }
  }

 private:
  std::string Bytes() {
    std::string s(rng_() % 6, '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }
  std::string Word() {
    static const char* kWords[] = {"a", "seq", "x-y", "nil", "1", "é", "a b", "->", ":k"};
    return kWords[rng_() % 9];
  }

  State& S;
  std::mt19937_64 rng_;
};

TEST_F(PrinterTest, RandomNestedDataRoundTrips) {
  RandomData gen(S, 12345);
  for (int i = 0; i < 3000; ++i) {
    Value v = gen.Make(5);
    RoundTrip(v);
    std::string out, error;
    ASSERT_TRUE(Serialize(S, v, &out, &error)) << error;
    EXPECT_EQ(out, Inspect(S, v));
  }
}

}  // namespace
}  // namespace sx::interp
