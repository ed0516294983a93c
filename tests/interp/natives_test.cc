// natives_test.cc — the builtin natives called directly, without the machine.
//
// Run("(substring \"hello\" 1 3)") reads the text, looks up the native named
// by the head symbol and calls it with the remaining elements as they were
// read (so arguments are literal data: `(first (1 2 3))` passes a list). It
// returns the inspect text of the result, or "error: <message>" when the
// native raised, which keeps each expectation on one line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "interp/dict.h"
#include "interp/heap.h"
#include "interp/native.h"
#include "interp/printer.h"
#include "interp/reader.h"
#include "interp/state.h"
#include "interp/value.h"

namespace sx::interp {
namespace {

class NativesTest : public ::testing::Test {
 protected:
  NativesTest() {
    S.output = [this](std::string_view s) { out_.append(s); };
  }

  Native* Lookup(std::string_view name) {
    Value f = S.GlobalValue(name);
    if (!IsType(f, ObjType::kNative)) return nullptr;
    return static_cast<Native*>(f.AsObj());
  }

  // Calls a native with the given argument values, checking arity as the
  // machine does.
  std::string Call(std::string_view name, const std::vector<Value>& argv) {
    Native* n = Lookup(name);
    if (n == nullptr) return "no native " + std::string(name);
    int argc = static_cast<int>(argv.size());
    if (argc < n->spec->min_args || (n->spec->max_args >= 0 && argc > n->spec->max_args)) {
      return "arity";
    }
    try {
      return Inspect(S, n->fn(Args{S, n->spec->name, argv.data(), argc}));
    } catch (const SxThrow& t) {
      if (IsError(t.value)) {
        return "error: " +
               std::string(StringView(static_cast<ErrorObj*>(t.value.AsObj())->message));
      }
      return "raised: " + Inspect(S, t.value);
    }
  }

  std::string Run(std::string_view text) {
    Value form = ReadString(S, text);
    std::vector<Value> argv;
    for (Value p = Cdr(form); IsPair(p); p = Cdr(p)) argv.push_back(Car(p));
    return Call(AsSymbol(Car(form))->name->View(), argv);
  }

  Value Big(int64_t n) { return S.heap.MakeInt(n); }

  State S;
  std::string out_;
};

// --- tables -------------------------------------------------------------------

TEST_F(NativesTest, EveryEntryHasADocstringAndIsInstalled) {
  const NativeSpec* tables[] = {NumberNatives(), ListNatives(), DictNatives(),
                                StringNatives(), TypeNatives(), IoNatives()};
  int count = 0;
  for (const NativeSpec* t : tables) {
    for (const NativeSpec* e = t; e->name != nullptr; ++e, ++count) {
      ASSERT_NE(e->doc, nullptr) << e->name;
      EXPECT_GT(std::string(e->doc).size(), std::string(e->name).size() + 4) << e->name;
      EXPECT_NE(Lookup(e->name), nullptr) << e->name;
      EXPECT_TRUE(e->max_args < 0 || e->max_args >= e->min_args) << e->name;
    }
  }
  EXPECT_GT(count, 100);
}

TEST_F(NativesTest, ArityIsDeclared) {
  EXPECT_EQ(Run("(first)"), "arity");
  EXPECT_EQ(Run("(first (1) (2))"), "arity");
  EXPECT_EQ(Run("(substring \"a\")"), "arity");
}

// --- arithmetic ---------------------------------------------------------------

TEST_F(NativesTest, AddSubMul) {
  EXPECT_EQ(Run("(+)"), "0");
  EXPECT_EQ(Run("(+ 1 2 3)"), "6");
  EXPECT_EQ(Run("(+ 1 2.5)"), "3.5");
  EXPECT_EQ(Run("(- 5)"), "-5");
  EXPECT_EQ(Run("(- 10 1 2)"), "7");
  EXPECT_EQ(Run("(*)"), "1");
  EXPECT_EQ(Run("(* 2 3 4)"), "24");
  EXPECT_EQ(Run("(* 2 0.5)"), "1.0");
  EXPECT_EQ(Run("(+ 1 \"x\")"), "error: +: argument 2 must be a number, got \"x\"");
}

TEST_F(NativesTest, IntegerOverflowIsAnError) {
  EXPECT_EQ(Run("(+ 9223372036854775807 1)"), "error: integer overflow in +");
  EXPECT_EQ(Run("(- -9223372036854775807 2)"), "error: integer overflow in -");
  EXPECT_EQ(Run("(* 4611686018427387904 2)"), "error: integer overflow in *");
  EXPECT_EQ(Call("-", {Big(INT64_MIN)}), "error: integer overflow in -");
  EXPECT_EQ(Call("abs", {Big(INT64_MIN)}), "error: integer overflow in abs");
  EXPECT_EQ(Run("(inc 9223372036854775807)"), "error: integer overflow in inc");
  EXPECT_EQ(Call("dec", {Big(INT64_MIN)}), "error: integer overflow in dec");
  EXPECT_EQ(Call("quot", {Big(INT64_MIN), Big(-1)}), "error: integer overflow in quot");
  EXPECT_EQ(Call("/", {Big(INT64_MIN), Big(-1)}), "error: integer overflow in /");
  EXPECT_EQ(Run("(expt 2 63)"), "error: integer overflow in expt");
  // Beyond the small-integer range but within 64 bits is fine.
  EXPECT_EQ(Run("(+ 140737488355327 1)"), "140737488355328");
  EXPECT_EQ(Run("(- 9223372036854775807 9223372036854775807)"), "0");
}

TEST_F(NativesTest, Division) {
  EXPECT_EQ(Run("(/ 6 2)"), "3");
  EXPECT_EQ(Run("(/ 7 2)"), "3.5");
  EXPECT_EQ(Run("(/ 2)"), "0.5");
  EXPECT_EQ(Run("(/ 1 0)"), "error: /: division by zero");
  EXPECT_EQ(Run("(/ 1.0 0)"), "##Inf");
  EXPECT_EQ(Run("(/ -1 0.0)"), "##-Inf");
  EXPECT_EQ(Run("(/ 0.0 0.0)"), "##NaN");
  EXPECT_EQ(Run("(/ 120 2 3)"), "20");
}

TEST_F(NativesTest, ModRemQuot) {
  EXPECT_EQ(Run("(mod -7 2)"), "1");
  EXPECT_EQ(Run("(mod 7 -2)"), "-1");
  EXPECT_EQ(Run("(rem -7 2)"), "-1");
  EXPECT_EQ(Run("(rem 7 -2)"), "1");
  EXPECT_EQ(Run("(quot -7 2)"), "-3");
  EXPECT_EQ(Run("(mod 6 3)"), "0");
  EXPECT_EQ(Run("(mod 5.5 2)"), "1.5");
  EXPECT_EQ(Run("(mod -1.5 2)"), "0.5");
  EXPECT_EQ(Run("(quot 7.5 2)"), "3.0");
  EXPECT_EQ(Run("(mod 1 0)"), "error: mod: division by zero");
  EXPECT_EQ(Run("(rem 1 0)"), "error: rem: division by zero");
  EXPECT_EQ(Call("rem", {Big(INT64_MIN), Big(-1)}), "0");
}

TEST_F(NativesTest, Rounding) {
  EXPECT_EQ(Run("(floor 2.7)"), "2");
  EXPECT_EQ(Run("(floor -2.5)"), "-3");
  EXPECT_EQ(Run("(ceil 2.1)"), "3");
  EXPECT_EQ(Run("(round 2.5)"), "3");
  EXPECT_EQ(Run("(round -2.5)"), "-3");
  EXPECT_EQ(Run("(round 2.4)"), "2");
  EXPECT_EQ(Run("(floor 7)"), "7");
  EXPECT_EQ(Run("(floor 1e300)"), "error: floor: 1e+300 does not fit in an integer");
  EXPECT_EQ(Run("(round ##NaN)"), "error: round: ##NaN does not fit in an integer");
  EXPECT_EQ(Run("(ceil \"1\")"), "error: ceil: argument 1 must be a number, got \"1\"");
}

TEST_F(NativesTest, SqrtExptAbsIncDec) {
  EXPECT_EQ(Run("(sqrt 16)"), "4.0");
  EXPECT_EQ(Run("(sqrt -1)"), "##NaN");
  EXPECT_EQ(Run("(expt 2 10)"), "1024");
  EXPECT_EQ(Run("(expt -2 3)"), "-8");
  EXPECT_EQ(Run("(expt 2 0)"), "1");
  EXPECT_EQ(Run("(expt 2 -1)"), "0.5");
  EXPECT_EQ(Run("(expt 2.0 3)"), "8.0");
  EXPECT_EQ(Run("(expt 1 1000000000000)"), "1");
  EXPECT_EQ(Run("(expt -2 63)"), "-9223372036854775808");
  EXPECT_EQ(Run("(abs -3)"), "3");
  EXPECT_EQ(Run("(abs -3.5)"), "3.5");
  EXPECT_EQ(Run("(inc 1)"), "2");
  EXPECT_EQ(Run("(dec 1.5)"), "0.5");
}

TEST_F(NativesTest, MinMax) {
  EXPECT_EQ(Run("(min 3 1 2)"), "1");
  EXPECT_EQ(Run("(max 3 1 2)"), "3");
  EXPECT_EQ(Run("(max 1 2.0)"), "2.0");
  EXPECT_EQ(Run("(max 3 2.0)"), "3");
  EXPECT_EQ(Run("(min 1 ##NaN 0)"), "##NaN");
  EXPECT_EQ(Run("(min 1 :a)"), "error: min: argument 2 must be a number, got :a");
}

TEST_F(NativesTest, Comparison) {
  EXPECT_EQ(Run("(< 1 2 3)"), "true");
  EXPECT_EQ(Run("(< 1 3 2)"), "false");
  EXPECT_EQ(Run("(<= 1 1 2)"), "true");
  EXPECT_EQ(Run("(> 3 2.5 1)"), "true");
  EXPECT_EQ(Run("(>= 1 1.0)"), "true");
  EXPECT_EQ(Run("(< 1)"), "true");
  EXPECT_EQ(Run("(< ##NaN 1)"), "false");
  EXPECT_EQ(Run("(>= ##NaN ##NaN)"), "false");
  EXPECT_EQ(Run("(< 9007199254740993 9007199254740992.0)"), "false");
  EXPECT_EQ(Run("(> 9007199254740993 9007199254740992.0)"), "true");
  EXPECT_EQ(Run("(< \"abc\" \"abd\" \"b\")"), "true");
  EXPECT_EQ(Run("(< \"b\" \"a\")"), "false");
  EXPECT_EQ(Run("(< 1 \"a\")"), "error: <: argument 2 must be a number, got \"a\"");
  EXPECT_EQ(Run("(< \"a\" 1)"), "error: <: argument 2 must be a string, got 1");
  EXPECT_EQ(Run("(< :a :b)"), "error: <: argument 1 must be a number or string, got :a");
}

TEST_F(NativesTest, NumericEquality) {
  EXPECT_EQ(Run("(= 1 1.0)"), "true");
  EXPECT_EQ(Run("(= 1 1 1)"), "true");
  EXPECT_EQ(Run("(= 1 2)"), "false");
  EXPECT_EQ(Run("(= \"a\" \"a\")"), "true");
  EXPECT_EQ(Run("(!= 1 2)"), "true");
  EXPECT_EQ(Run("(!= 1 1.0)"), "false");
}

TEST_F(NativesTest, NumberPredicates) {
  EXPECT_EQ(Run("(number? 1.5)"), "true");
  EXPECT_EQ(Run("(number? \"1\")"), "false");
  EXPECT_EQ(Run("(integer? 2)"), "true");
  EXPECT_EQ(Run("(integer? 2.0)"), "false");
  EXPECT_EQ(Run("(float? 2.0)"), "true");
  EXPECT_EQ(Run("(zero? 0)"), "true");
  EXPECT_EQ(Run("(zero? -0.0)"), "true");
  EXPECT_EQ(Run("(zero? ##NaN)"), "false");
  EXPECT_EQ(Run("(pos? 0.1)"), "true");
  EXPECT_EQ(Run("(neg? -1)"), "true");
  EXPECT_EQ(Run("(neg? 0)"), "false");
  EXPECT_EQ(Run("(even? -4)"), "true");
  EXPECT_EQ(Run("(odd? -3)"), "true");
  EXPECT_EQ(Run("(even? 2.0)"), "error: even?: argument 1 must be an integer, got 2.0");
  EXPECT_EQ(Run("(zero? nil)"), "error: zero?: argument 1 must be a number, got nil");
}

// --- lists ----------------------------------------------------------------------

TEST_F(NativesTest, ListBasics) {
  EXPECT_EQ(Run("(list 1 2 3)"), "(1 2 3)");
  EXPECT_EQ(Run("(list)"), "()");
  EXPECT_EQ(Run("(cons 0 (1 2))"), "(0 1 2)");
  EXPECT_EQ(Run("(cons 0 nil)"), "(0)");
  EXPECT_EQ(Run("(cons 0 5)"), "error: cons: argument 2 must be a list, got 5");
  EXPECT_EQ(Run("(first (1 2))"), "1");
  EXPECT_EQ(Run("(first ())"), "nil");
  EXPECT_EQ(Run("(first nil)"), "nil");
  EXPECT_EQ(Run("(rest (1 2))"), "(2)");
  EXPECT_EQ(Run("(rest ())"), "()");
  EXPECT_EQ(Run("(rest nil)"), "()");
  EXPECT_EQ(Run("(second (1 2))"), "2");
  EXPECT_EQ(Run("(second (1))"), "nil");
  EXPECT_EQ(Run("(last (1 2 3))"), "3");
  EXPECT_EQ(Run("(last ())"), "nil");
  EXPECT_EQ(Run("(first \"abc\")"), "error: first: argument 1 must be a list, got \"abc\"");
}

TEST_F(NativesTest, NthAndLen) {
  EXPECT_EQ(Run("(nth (a b c) 1)"), "b");
  EXPECT_EQ(Run("(nth (a b c) 3)"), "error: nth: index 3 out of range for a list of 3 elements");
  EXPECT_EQ(Run("(nth (a b c) -1)"),
            "error: nth: argument 2 must be a non-negative integer, got -1");
  EXPECT_EQ(Run("(len (1 2 3))"), "3");
  EXPECT_EQ(Run("(len ())"), "0");
  EXPECT_EQ(Run("(len nil)"), "0");
  EXPECT_EQ(Run("(len {:a 1 :b 2})"), "2");
  EXPECT_EQ(Run("(len \"h\\u{e9}llo\")"), "5");
  EXPECT_EQ(Run("(count \"\")"), "0");
  EXPECT_EQ(Run("(len 5)"), "error: len: argument 1 must be a list, dict or string, got 5");
}

TEST_F(NativesTest, LenOfAMillionElementList) {
  Value l = Value::EmptyList();
  for (int i = 0; i < 1000000; ++i) l = S.heap.Cons(Value::SmallInt(i), l);
  EXPECT_EQ(Call("len", {l}), "1000000");
  EXPECT_EQ(Call("last", {l}), "0");
  std::string r = Call("reverse", {l});
  EXPECT_EQ(r.substr(0, 6), "(0 1 2");
}

TEST_F(NativesTest, AppendConcatReverse) {
  EXPECT_EQ(Run("(append (1 2) 3)"), "(1 2 3)");
  EXPECT_EQ(Run("(append (1 2) (3 4))"), "(1 2 3 4)");
  EXPECT_EQ(Run("(append (1) 2 (3 4) ())"), "(1 2 3 4)");
  EXPECT_EQ(Run("(append (1) nil)"), "(1 nil)");
  EXPECT_EQ(Run("(append nil 1)"), "(1)");
  EXPECT_EQ(Run("(append)"), "()");
  EXPECT_EQ(Run("(append 1 2)"), "error: append: argument 1 must be a list, got 1");
  EXPECT_EQ(Run("(concat (1) () (2 3) nil)"), "(1 2 3)");
  EXPECT_EQ(Run("(concat)"), "()");
  EXPECT_EQ(Run("(concat (1) 2)"), "error: concat: argument 2 must be a list, got 2");
  EXPECT_EQ(Run("(reverse (1 2 3))"), "(3 2 1)");
  EXPECT_EQ(Run("(reverse ())"), "()");
  EXPECT_EQ(Run("(reverse \"ab\\u{e9}\")"),
            "\"\xC3\xA9"
            "ba\"");
  EXPECT_EQ(Run("(reverse 1)"), "error: reverse: argument 1 must be a list or string, got 1");
}

TEST_F(NativesTest, TakeDrop) {
  EXPECT_EQ(Run("(take 2 (1 2 3))"), "(1 2)");
  EXPECT_EQ(Run("(take (1 2 3) 2)"), "(1 2)");
  EXPECT_EQ(Run("(take 5 (1 2))"), "(1 2)");
  EXPECT_EQ(Run("(take 0 (1 2))"), "()");
  EXPECT_EQ(Run("(drop 2 (1 2 3))"), "(3)");
  EXPECT_EQ(Run("(drop (1 2 3) 5)"), "()");
  EXPECT_EQ(Run("(take -1 (1))"), "error: take: argument 1 must be a non-negative integer, got -1");
  EXPECT_EQ(Run("(take \"a\" 1)"),
            "error: take: argument 1 must be an integer or a list, got \"a\"");
}

TEST_F(NativesTest, Range) {
  EXPECT_EQ(Run("(range 4)"), "(0 1 2 3)");
  EXPECT_EQ(Run("(range 2 5)"), "(2 3 4)");
  EXPECT_EQ(Run("(range 0 10 3)"), "(0 3 6 9)");
  EXPECT_EQ(Run("(range 5 0 -2)"), "(5 3 1)");
  EXPECT_EQ(Run("(range 0)"), "()");
  EXPECT_EQ(Run("(range 3 1)"), "()");
  EXPECT_EQ(Run("(range 0 1 0.25)"), "(0.0 0.25 0.5 0.75)");
  EXPECT_EQ(Run("(range 0 1 0)"), "error: range: step must not be zero");
  EXPECT_EQ(Run("(range \"a\")"), "error: range: argument 1 must be a number, got \"a\"");
  EXPECT_EQ(Run("(range 9223372036854775806 9223372036854775807 5)"), "(9223372036854775806)");
  EXPECT_EQ(Run("(range 0 ##Inf 1.0)"), "error: range: more than 268435456 elements");
  EXPECT_EQ(Run("(range 1000000000000)"), "error: range: more than 268435456 elements");
  EXPECT_EQ(Run("(range -9223372036854775807 9223372036854775807 4611686018427387904)"),
            "(-9223372036854775807 -4611686018427387903 1 4611686018427387905)");
  EXPECT_EQ(Run("(range 0 ##NaN 1)"), "error: range: start and end must not be NaN");
}

TEST_F(NativesTest, ContainsAndIndexOf) {
  EXPECT_EQ(Run("(contains? (1 2 3) 2)"), "true");
  EXPECT_EQ(Run("(contains? (1 2 3) 2.0)"), "true");
  EXPECT_EQ(Run("(contains? (1 2 3) 4)"), "false");
  EXPECT_EQ(Run("(contains? {:a 1} :a)"), "true");
  EXPECT_EQ(Run("(contains? {:a 1} \"a\")"), "true");
  EXPECT_EQ(Run("(contains? {:a 1} 1)"), "false");
  EXPECT_EQ(Run("(contains? \"hello\" \"ell\")"), "true");
  EXPECT_EQ(Run("(contains? nil 1)"), "false");
  EXPECT_EQ(Run("(contains? 5 1)"),
            "error: contains?: argument 1 must be a list, dict or string, got 5");
  EXPECT_EQ(Run("(index-of (a b c) c)"), "2");
  EXPECT_EQ(Run("(index-of (a b c) d)"), "nil");
  EXPECT_EQ(Run("(index-of \"h\\u{e9}llo\" \"l\")"), "2");
  EXPECT_EQ(Run("(index-of \"abc\" \"z\")"), "nil");
}

TEST_F(NativesTest, EmptyListP) {
  EXPECT_EQ(Run("(empty? ())"), "true");
  EXPECT_EQ(Run("(empty? nil)"), "true");
  EXPECT_EQ(Run("(empty? (1))"), "false");
  EXPECT_EQ(Run("(empty? \"\")"), "true");
  EXPECT_EQ(Run("(empty? {})"), "true");
  EXPECT_EQ(Run("(empty? 0)"), "error: empty?: argument 1 must be a list, dict or string, got 0");
  EXPECT_EQ(Run("(list? ())"), "true");
  EXPECT_EQ(Run("(list? nil)"), "false");
  EXPECT_EQ(Run("(list? (1))"), "true");
}

TEST_F(NativesTest, ZipFlattenDistinct) {
  EXPECT_EQ(Run("(zip (1 2 3) (a b))"), "((1 a) (2 b))");
  EXPECT_EQ(Run("(zip (1 2) (a b) (x y))"), "((1 a x) (2 b y))");
  EXPECT_EQ(Run("(zip () (1))"), "()");
  EXPECT_EQ(Run("(flatten (1 (2 (3 (4)) ()) 5))"), "(1 2 3 4 5)");
  EXPECT_EQ(Run("(flatten ())"), "()");
  EXPECT_EQ(Run("(distinct (1 2 1 3 2 1.0 \"a\" \"a\" (1) (1)))"), "(1 2 3 \"a\" (1))");
  EXPECT_EQ(Run("(flatten 1)"), "error: flatten: argument 1 must be a list, got 1");
}

TEST_F(NativesTest, FlattenOfDeepNesting) {
  Value l = S.heap.Cons(Value::SmallInt(7), Value::EmptyList());
  for (int i = 0; i < 200000; ++i) l = S.heap.Cons(l, Value::EmptyList());
  EXPECT_EQ(Call("flatten", {l}), "(7)");
}

// --- dicts ----------------------------------------------------------------------

TEST_F(NativesTest, DictConstructionAndGet) {
  EXPECT_EQ(Run("(dict :a 1 \"b\" 2)"), "{:a 1 :b 2}");
  EXPECT_EQ(Run("(dict)"), "{}");
  EXPECT_EQ(Run("(dict :a)"), "error: dict: expected keys and values in pairs, got an odd count");
  EXPECT_EQ(Run("(dict 1 2)"), "error: dict: argument 1 must be a string or keyword key, got 1");
  EXPECT_EQ(Run("(get {:a 1} :a)"), "1");
  EXPECT_EQ(Run("(get {:a 1} \"a\")"), "1");
  EXPECT_EQ(Run("(get {:a 1} :b)"), "nil");
  EXPECT_EQ(Run("(get {:a 1} :b 0)"), "0");
  EXPECT_EQ(Run("(get {:a nil} :a 0)"), "nil");
  EXPECT_EQ(Run("(get (a b c) 1)"), "b");
  EXPECT_EQ(Run("(get (a b c) 3)"), "nil");
  EXPECT_EQ(Run("(get (a b c) -1 :none)"), ":none");
  EXPECT_EQ(Run("(get nil :a 5)"), "5");
  EXPECT_EQ(Run("(get 5 :a)"), "error: get: argument 1 must be a dict or list, got 5");
  EXPECT_EQ(Run("(get (1) :a)"), "error: get: argument 2 must be an integer, got :a");
}

TEST_F(NativesTest, DictUpdates) {
  EXPECT_EQ(Run("(assoc {:a 1} :b 2 :a 3)"), "{:a 3 :b 2}");
  EXPECT_EQ(Run("(assoc nil :a 1)"), "{:a 1}");
  EXPECT_EQ(Run("(assoc {} :a)"), "arity");
  EXPECT_EQ(Run("(assoc {} :a 1 :b)"),
            "error: assoc: expected keys and values in pairs, got an odd count");
  EXPECT_EQ(Run("(assoc (1) :a 1)"), "error: assoc: argument 1 must be a dict, got (1)");
  EXPECT_EQ(Run("(dissoc {:a 1 :b 2 :c 3} :a \"c\" :zz)"), "{:b 2}");
  EXPECT_EQ(Run("(merge {:a 1 :b 1} nil {:b 2 :c 2})"), "{:a 1 :b 2 :c 2}");
  EXPECT_EQ(Run("(merge)"), "{}");
  EXPECT_EQ(Run("(merge nil nil)"), "{}");
  EXPECT_EQ(Run("(merge {} 1)"), "error: merge: argument 2 must be a dict, got 1");
}

TEST_F(NativesTest, DictQueries) {
  EXPECT_EQ(Run("(keys {:b 1 :a 2 \"c\" 3})"), "(\"a\" \"b\" \"c\")");
  EXPECT_EQ(Run("(vals {:b 1 :a 2 \"c\" 3})"), "(2 1 3)");
  EXPECT_EQ(Run("(keys {})"), "()");
  EXPECT_EQ(Run("(keys nil)"), "()");
  EXPECT_EQ(Run("(has-key? {:a nil} :a)"), "true");
  EXPECT_EQ(Run("(has-key? {:a 1} :b)"), "false");
  EXPECT_EQ(Run("(dict? {})"), "true");
  EXPECT_EQ(Run("(dict? ())"), "false");
  EXPECT_EQ(Run("(select-keys {:a 1 :b 2 :c 3} (:a \"c\" :d))"), "{:a 1 :c 3}");
  EXPECT_EQ(Run("(select-keys {:a 1} (1))"),
            "error: select-keys: keys must be strings or keywords, got 1");
}

// --- strings --------------------------------------------------------------------

TEST_F(NativesTest, Str) {
  EXPECT_EQ(Run("(str \"a\" 1 nil :k 2.5 (1 \"b\"))"), "\"a1:k2.5(1 \\\"b\\\")\"");
  EXPECT_EQ(Run("(str)"), "\"\"");
}

TEST_F(NativesTest, Substring) {
  EXPECT_EQ(Run("(substring \"hello\" 1 3)"), "\"el\"");
  EXPECT_EQ(Run("(substring \"hello\" 2)"), "\"llo\"");
  EXPECT_EQ(Run("(substring \"h\\u{e9}llo\" 1 2)"), "\"\xC3\xA9\"");
  EXPECT_EQ(Run("(substring \"abc\" 3)"), "\"\"");
  EXPECT_EQ(Run("(substring \"abc\" 2 5)"),
            "error: substring: range 2..5 is out of bounds for a string of 3 code points");
  EXPECT_EQ(Run("(substring \"abc\" 2 1)"),
            "error: substring: range 2..1 is out of bounds for a string of 3 code points");
  EXPECT_EQ(Run("(substring \"abc\" \"x\")"),
            "error: substring: argument 2 must be an integer, got \"x\"");
  EXPECT_EQ(Run("(substring 1 0)"), "error: substring: argument 1 must be a string, got 1");
}

TEST_F(NativesTest, SplitJoin) {
  EXPECT_EQ(Run("(split \"a,b,c\" \",\")"), "(\"a\" \"b\" \"c\")");
  EXPECT_EQ(Run("(split \"a,,b,\" \",\")"), "(\"a\" \"\" \"b\" \"\")");
  EXPECT_EQ(Run("(split \"a--b\" \"--\")"), "(\"a\" \"b\")");
  EXPECT_EQ(Run("(split \"\" \",\")"), "(\"\")");
  EXPECT_EQ(Run("(split \"a\\u{e9}\" \"\")"), "(\"a\" \"\xC3\xA9\")");
  EXPECT_EQ(Run("(join \", \" (\"a\" \"b\" 3))"), "\"a, b, 3\"");
  EXPECT_EQ(Run("(join (\"a\" \"b\") \"-\")"), "\"a-b\"");
  EXPECT_EQ(Run("(join (\"a\" \"b\"))"), "\"ab\"");
  EXPECT_EQ(Run("(join \",\" ())"), "\"\"");
  EXPECT_EQ(Run("(join 1 \",\")"), "error: join: argument 1 must be a string or a list, got 1");
  EXPECT_EQ(Run("(join (1) 2)"), "error: join: argument 2 must be a string, got 2");
}

TEST_F(NativesTest, CaseTrimAndSearch) {
  EXPECT_EQ(Run("(upper \"abc\\u{e9}Z\")"),
            "\"ABC\xC3\xA9"
            "Z\"");
  EXPECT_EQ(Run("(lower \"ABCz\")"), "\"abcz\"");
  EXPECT_EQ(Run("(trim \"  a b \\n\\t\")"), "\"a b\"");
  EXPECT_EQ(Run("(trim \"   \")"), "\"\"");
  EXPECT_EQ(Run("(starts-with? \"hello\" \"he\")"), "true");
  EXPECT_EQ(Run("(starts-with? \"hello\" \"lo\")"), "false");
  EXPECT_EQ(Run("(ends-with? \"hello\" \"lo\")"), "true");
  EXPECT_EQ(Run("(includes? \"hello\" \"ll\")"), "true");
  EXPECT_EQ(Run("(includes? \"hello\" \"\")"), "true");
  EXPECT_EQ(Run("(includes? \"hello\" :ll)"),
            "error: includes?: argument 2 must be a string, got :ll");
  EXPECT_EQ(Run("(replace \"a-b-c\" \"-\" \"+\")"), "\"a+b+c\"");
  EXPECT_EQ(Run("(replace \"aaa\" \"aa\" \"b\")"), "\"ba\"");
  EXPECT_EQ(Run("(replace \"abc\" \"\" \"x\")"),
            "error: replace: argument 2 must be a non-empty string, got \"\"");
}

TEST_F(NativesTest, NumberConversions) {
  EXPECT_EQ(Run("(string->number \"42\")"), "42");
  EXPECT_EQ(Run("(string->number \" -1.5e3 \")"), "-1500.0");
  EXPECT_EQ(Run("(string->number \"+7\")"), "7");
  EXPECT_EQ(Run("(string->number \".5\")"), "0.5");
  EXPECT_EQ(Run("(string->number \"##NaN\")"), "##NaN");
  EXPECT_EQ(Run("(string->number \"12a\")"), "nil");
  EXPECT_EQ(Run("(string->number \"\")"), "nil");
  EXPECT_EQ(Run("(string->number \"inf\")"), "nil");
  EXPECT_EQ(Run("(string->number \"-\")"), "nil");
  EXPECT_EQ(Run("(string->number \"99999999999999999999\")"), "nil");
  EXPECT_EQ(Run("(string->number \"9223372036854775807\")"), "9223372036854775807");
  EXPECT_EQ(Run("(number->string 42)"), "\"42\"");
  EXPECT_EQ(Run("(number->string 1.5)"), "\"1.5\"");
  EXPECT_EQ(Run("(number->string 255 16)"), "\"ff\"");
  EXPECT_EQ(Run("(number->string -5 2)"), "\"-101\"");
  EXPECT_EQ(Run("(number->string 5 1)"),
            "error: number->string: argument 2 must be a radix from 2 to 36, got 1");
  EXPECT_EQ(Run("(number->string \"5\")"),
            "error: number->string: argument 1 must be a number, got \"5\"");
}

TEST_F(NativesTest, SymbolsAndKeywords) {
  EXPECT_EQ(Run("(string->symbol \"abc\")"), "abc");
  EXPECT_EQ(Run("(symbol->string abc)"), "\"abc\"");
  EXPECT_EQ(Run("(symbol->string \"abc\")"),
            "error: symbol->string: argument 1 must be a symbol, got \"abc\"");
  EXPECT_EQ(Run("(keyword \"seq\")"), ":seq");
  EXPECT_EQ(Run("(keyword :seq)"), ":seq");
  EXPECT_EQ(Run("(keyword seq)"), ":seq");
  EXPECT_EQ(Run("(name :seq)"), "\"seq\"");
  EXPECT_EQ(Run("(name seq)"), "\"seq\"");
  EXPECT_EQ(Run("(name \"seq\")"), "\"seq\"");
  EXPECT_EQ(Run("(name 1)"), "error: name: argument 1 must be a keyword, symbol or string, got 1");
}

// --- types, equality, errors ------------------------------------------------------

TEST_F(NativesTest, TypeOf) {
  EXPECT_EQ(Run("(type-of nil)"), "\"nil\"");
  EXPECT_EQ(Run("(type-of 1)"), "\"integer\"");
  EXPECT_EQ(Run("(type-of 1.5)"), "\"number\"");
  EXPECT_EQ(Run("(type-of \"s\")"), "\"string\"");
  EXPECT_EQ(Run("(type-of :k)"), "\"keyword\"");
  EXPECT_EQ(Run("(type-of s)"), "\"symbol\"");
  EXPECT_EQ(Run("(type-of ())"), "\"list\"");
  EXPECT_EQ(Run("(type-of {})"), "\"dict\"");
  EXPECT_EQ(Run("(type-of true)"), "\"boolean\"");
  EXPECT_EQ(Call("type-of", {S.GlobalValue("first")}), "\"fn\"");
}

TEST_F(NativesTest, TypePredicates) {
  EXPECT_EQ(Run("(nil? nil)"), "true");
  EXPECT_EQ(Run("(nil? ())"), "false");
  EXPECT_EQ(Run("(nil? false)"), "false");
  EXPECT_EQ(Run("(boolean? false)"), "true");
  EXPECT_EQ(Run("(boolean? nil)"), "false");
  EXPECT_EQ(Run("(string? \"\")"), "true");
  EXPECT_EQ(Run("(symbol? a)"), "true");
  EXPECT_EQ(Run("(symbol? :a)"), "false");
  EXPECT_EQ(Run("(keyword? :a)"), "true");
  EXPECT_EQ(Run("(fn? 1)"), "false");
  EXPECT_EQ(Call("fn?", {S.GlobalValue("first")}), "true");
  EXPECT_EQ(Run("(error? \"x\")"), "false");
}

TEST_F(NativesTest, EqualityAndNot) {
  EXPECT_EQ(Run("(equal? (1 {:a \"x\"}) (1 {:a \"x\"}))"), "true");
  EXPECT_EQ(Run("(equal? 1 1.0)"), "false");
  EXPECT_EQ(Run("(eq? 1 1)"), "true");
  EXPECT_EQ(Call("eq?", {Big(INT64_MAX), Big(INT64_MAX)}), "true");
  EXPECT_EQ(Run("(eq? 1 1.0)"), "false");
  EXPECT_EQ(Run("(eq? :a :a)"), "true");
  EXPECT_EQ(Run("(eq? a a)"), "true");
  EXPECT_EQ(Run("(eq? () ())"), "true");
  EXPECT_EQ(Run("(eq? (1) (1))"), "false");
  EXPECT_EQ(Run("(eq? ##NaN ##NaN)"), "true");
  EXPECT_EQ(Run("(not nil)"), "true");
  EXPECT_EQ(Run("(not false)"), "true");
  EXPECT_EQ(Run("(not ())"), "false");
  EXPECT_EQ(Run("(not 0)"), "false");
}

TEST_F(NativesTest, ErrorsAreRaisedAndRead) {
  EXPECT_EQ(Run("(error \"boom\")"), "error: boom");
  EXPECT_EQ(Run("(error boom)"), "error: boom");
  EXPECT_EQ(Run("(raise 42)"), "raised: 42");
  EXPECT_EQ(Run("(raise {:code 1})"), "raised: {:code 1}");
  Native* error = Lookup("error");
  Value argv[] = {S.heap.MakeString("bad"), ReadString(S, "{:code 7}")};
  Value e;
  try {
    error->fn(Args{S, "error", argv, 2});
  } catch (const SxThrow& t) {
    e = t.value;
  }
  ASSERT_TRUE(IsError(e));
  EXPECT_EQ(Call("error?", {e}), "true");
  EXPECT_EQ(Call("error-message", {e}), "\"bad\"");
  EXPECT_EQ(Call("error-data", {e}), "{:code 7}");
  EXPECT_EQ(Run("(error-message \"x\")"),
            "error: error-message: argument 1 must be an error, got \"x\"");
  EXPECT_EQ(Run("(error-data 1)"), "error: error-data: argument 1 must be an error, got 1");
}

TEST_F(NativesTest, GensymIsFresh) {
  std::string a = Run("(gensym)");
  std::string b = Run("(gensym)");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("g__", 0), 0u);
  EXPECT_EQ(Run("(gensym tmp)").rfind("tmp__", 0), 0u);
  EXPECT_EQ(Run("(gensym 1)"), "error: gensym: argument 1 must be a string, got 1");
}

// --- data text and output -------------------------------------------------------

TEST_F(NativesTest, InspectAndReadString) {
  EXPECT_EQ(Run("(inspect \"a\\nb\")"), "\"\\\"a\\\\nb\\\"\"");
  EXPECT_EQ(Run("(inspect (1 :a {:b -0.0}))"), "\"(1 :a {:b -0.0})\"");
  EXPECT_EQ(Run("(read-string \"(1 2 {:a \\\"x\\\"})\")"), "(1 2 {:a \"x\"})");
  EXPECT_EQ(Run("(read-string \"  42 ; done\")"), "42");
  EXPECT_EQ(Run("(read-string 42)"), "error: read-string: argument 1 must be a string, got 42");
  EXPECT_EQ(Run("(read-string \"(1 2\")").rfind("error: ", 0), 0u);
}

TEST_F(NativesTest, SerializeRoundTrips) {
  EXPECT_EQ(Run("(serialize {:seq 1 :tags (\"a\" :b)})"), "\"{:seq 1 :tags (\\\"a\\\" :b)}\"");
  EXPECT_EQ(Run("(deserialize \"{:seq 1}\")"), "{:seq 1}");
  std::string r = Call("serialize", {S.heap.Cons(S.GlobalValue("first"), Value::EmptyList())});
  EXPECT_EQ(r.rfind("error: serialize: ", 0), 0u) << r;
}

TEST_F(NativesTest, Output) {
  EXPECT_EQ(Run("(print \"a\" 1 :k)"), "nil");
  EXPECT_EQ(out_, "a 1 :k");
  out_.clear();
  Run("(println \"x\" \"y\")");
  EXPECT_EQ(out_, "x y\n");
  out_.clear();
  Run("(display \"q\")");
  Run("(newline)");
  Run("(display (1 \"s\"))");
  EXPECT_EQ(out_, "q\n(1 \"s\")");
  out_.clear();
  Run("(println)");
  EXPECT_EQ(out_, "\n");
}

}  // namespace
}  // namespace sx::interp
