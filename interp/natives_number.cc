// natives_number.cc — arithmetic, comparison and numeric predicates.
//
// SX has two kinds of number: 64-bit integers and doubles. Integer arithmetic
// is checked: a result that does not fit is the SX error "integer overflow in
// +", never a wrapped value. An operation on two integers gives an integer
// (except `/` when the division is inexact and `sqrt`); as soon as a float is
// involved the result is a float. Comparisons between an integer and a float
// are exact, not done by converting the integer to a double, so
// (< 9007199254740993 9007199254740992.0) is false as it should be.
#include <cmath>
#include <cstdint>
#include <string>

#include "interp/equal.h"
#include "interp/natives_util.h"
#include "interp/printer.h"

namespace sx::interp {
namespace {

constexpr double kTwo63 = 9223372036854775808.0;  // 2^63, exactly representable
constexpr int kUnordered = 2;                     // a comparison involving NaN

[[noreturn]] void Overflow(const Args& a) {
  ThrowError(a.S, std::string("integer overflow in ") + a.fn);
}

[[noreturn]] void DivisionByZero(const Args& a) {
  ThrowError(a.S, std::string(a.fn) + ": division by zero");
}

Value NumArg(const Args& a, int i) {
  if (!IsNumber(a[i])) a.Fail(i, "a number");
  return a[i];
}

Value MakeInt(const Args& a, int64_t n) { return a.S.heap.MakeInt(n); }

// --- exact comparison -------------------------------------------------------

int Sign(double d) { return d < 0 ? -1 : d > 0 ? 1 : 0; }

int CompareIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return kUnordered;
  if (d >= kTwo63) return -1;
  if (d < -kTwo63) return 1;
  double whole = std::trunc(d);
  int64_t w = static_cast<int64_t>(whole);
  if (i != w) return i < w ? -1 : 1;
  return -Sign(d - whole);
}

// -1, 0, 1, or kUnordered when either side is NaN. Both must be numbers.
int CompareNumbers(Value x, Value y) {
  bool xi = IsInt(x), yi = IsInt(y);
  if (xi && yi) {
    int64_t a = AsInt(x), b = AsInt(y);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (xi) return CompareIntDouble(AsInt(x), y.AsFloat());
  if (yi) {
    int c = CompareIntDouble(AsInt(y), x.AsFloat());
    return c == kUnordered ? c : -c;
  }
  double a = x.AsFloat(), b = y.AsFloat();
  if (std::isnan(a) || std::isnan(b)) return kUnordered;
  return a < b ? -1 : a > b ? 1 : 0;
}

// --- + - * ------------------------------------------------------------------

enum class Op { kAdd, kSub, kMul };

Value Apply(const Args& a, Op op, Value x, Value y) {
  if (IsInt(x) && IsInt(y)) {
    int64_t r;
    bool overflow = false;
    switch (op) {
      case Op::kAdd:
        overflow = __builtin_add_overflow(AsInt(x), AsInt(y), &r);
        break;
      case Op::kSub:
        overflow = __builtin_sub_overflow(AsInt(x), AsInt(y), &r);
        break;
      case Op::kMul:
        overflow = __builtin_mul_overflow(AsInt(x), AsInt(y), &r);
        break;
    }
    if (overflow) Overflow(a);
    return MakeInt(a, r);
  }
  double dx = AsDouble(x), dy = AsDouble(y);
  switch (op) {
    case Op::kAdd:
      return Value::Float(dx + dy);
    case Op::kSub:
      return Value::Float(dx - dy);
    case Op::kMul:
      return Value::Float(dx * dy);
  }
  return Value::Nil();
}

Value Fold(const Args& a, Op op, Value identity) {
  if (a.n == 0) return identity;
  Value acc = NumArg(a, 0);
  for (int i = 1; i < a.n; ++i) acc = Apply(a, op, acc, NumArg(a, i));
  return acc;
}

Value Add(const Args& a) { return Fold(a, Op::kAdd, Value::SmallInt(0)); }
Value Mul(const Args& a) { return Fold(a, Op::kMul, Value::SmallInt(1)); }

Value Sub(const Args& a) {
  if (a.n == 1) return Apply(a, Op::kSub, Value::SmallInt(0), NumArg(a, 0));
  return Fold(a, Op::kSub, Value::SmallInt(0));
}

// --- division ---------------------------------------------------------------

Value Divide(const Args& a, Value x, Value y) {
  if (IsInt(x) && IsInt(y)) {
    int64_t n = AsInt(x), d = AsInt(y);
    if (d == 0) DivisionByZero(a);
    if (d == -1) {
      if (n == INT64_MIN) Overflow(a);
      return MakeInt(a, -n);
    }
    if (n % d == 0) return MakeInt(a, n / d);
    return Value::Float(static_cast<double>(n) / static_cast<double>(d));
  }
  return Value::Float(AsDouble(x) / AsDouble(y));
}

Value Div(const Args& a) {
  if (a.n == 1) return Divide(a, Value::SmallInt(1), NumArg(a, 0));
  Value acc = NumArg(a, 0);
  for (int i = 1; i < a.n; ++i) acc = Divide(a, acc, NumArg(a, i));
  return acc;
}

enum class IntDiv { kQuot, kRem, kMod };

Value IntegerDivision(const Args& a, IntDiv kind) {
  Value x = NumArg(a, 0), y = NumArg(a, 1);
  if (IsInt(x) && IsInt(y)) {
    int64_t n = AsInt(x), d = AsInt(y);
    if (d == 0) DivisionByZero(a);
    if (d == -1) {  // n % -1 is always 0, and INT64_MIN / -1 overflows
      if (kind != IntDiv::kQuot) return Value::SmallInt(0);
      if (n == INT64_MIN) Overflow(a);
      return MakeInt(a, -n);
    }
    if (kind == IntDiv::kQuot) return MakeInt(a, n / d);
    int64_t r = n % d;
    if (kind == IntDiv::kMod && r != 0 && ((r < 0) != (d < 0))) r += d;
    return MakeInt(a, r);
  }
  double n = AsDouble(x), d = AsDouble(y);
  if (kind == IntDiv::kQuot) return Value::Float(std::trunc(n / d));
  double r = std::fmod(n, d);
  if (kind == IntDiv::kMod && r != 0 && ((r < 0) != (d < 0))) r += d;
  return Value::Float(r);
}

Value Quot(const Args& a) { return IntegerDivision(a, IntDiv::kQuot); }
Value Rem(const Args& a) { return IntegerDivision(a, IntDiv::kRem); }
Value Mod(const Args& a) { return IntegerDivision(a, IntDiv::kMod); }

// --- single-argument functions ----------------------------------------------

Value Abs(const Args& a) {
  Value x = NumArg(a, 0);
  if (IsInt(x)) {
    int64_t n = AsInt(x);
    if (n == INT64_MIN) Overflow(a);
    return MakeInt(a, n < 0 ? -n : n);
  }
  return Value::Float(std::fabs(x.AsFloat()));
}

Value Step(const Args& a, int64_t delta) {
  Value x = NumArg(a, 0);
  if (IsInt(x)) {
    int64_t r;
    if (__builtin_add_overflow(AsInt(x), delta, &r)) Overflow(a);
    return MakeInt(a, r);
  }
  return Value::Float(x.AsFloat() + static_cast<double>(delta));
}

Value Inc(const Args& a) { return Step(a, 1); }
Value Dec(const Args& a) { return Step(a, -1); }

// floor, ceil and round give an integer; a float whose rounded value does not
// fit in 64 bits (or is NaN or infinite) is an error rather than a float.
Value ToInteger(const Args& a, double (*rounder)(double)) {
  Value x = NumArg(a, 0);
  if (IsInt(x)) return x;
  double d = rounder(x.AsFloat());
  if (!(d >= -kTwo63 && d < kTwo63)) {
    std::string text;
    FormatDouble(x.AsFloat(), &text);
    ThrowError(a.S, std::string(a.fn) + ": " + text + " does not fit in an integer");
  }
  return MakeInt(a, static_cast<int64_t>(d));
}

Value Floor(const Args& a) {
  return ToInteger(a, [](double d) { return std::floor(d); });
}
Value Ceil(const Args& a) {
  return ToInteger(a, [](double d) { return std::ceil(d); });
}
Value Round(const Args& a) {
  return ToInteger(a, [](double d) { return std::round(d); });
}

Value Sqrt(const Args& a) { return Value::Float(std::sqrt(a.Num(0))); }

Value Expt(const Args& a) {
  Value x = NumArg(a, 0), y = NumArg(a, 1);
  if (IsInt(x) && IsInt(y) && AsInt(y) >= 0) {
    int64_t base = AsInt(x), e = AsInt(y), result = 1;
    while (e > 0) {
      if ((e & 1) && __builtin_mul_overflow(result, base, &result)) Overflow(a);
      e >>= 1;
      if (e > 0 && __builtin_mul_overflow(base, base, &base)) Overflow(a);
    }
    return MakeInt(a, result);
  }
  return Value::Float(std::pow(AsDouble(x), AsDouble(y)));
}

// --- min / max --------------------------------------------------------------

// Returns the chosen argument itself (no int-to-float contagion); NaN wins.
Value Extreme(const Args& a, int want) {
  Value best = NumArg(a, 0);
  for (int i = 1; i < a.n; ++i) {
    Value x = NumArg(a, i);
    if (best.IsFloat() && std::isnan(best.AsFloat())) continue;
    int c = CompareNumbers(x, best);
    if (c == kUnordered || c == want) best = x;
  }
  return best;
}

Value Min(const Args& a) { return Extreme(a, -1); }
Value Max(const Args& a) { return Extreme(a, 1); }

// --- comparison chains ------------------------------------------------------

// Checks every argument, then tests `ok(cmp(a[i-1], a[i]))` along the chain.
// All arguments are numbers, or all are strings (compared by bytes).
template <class Ok>
Value Chain(const Args& a, Ok ok) {
  bool strings = IsString(a[0]);
  if (!strings && !IsNumber(a[0])) a.Fail(0, "a number or string");
  for (int i = 1; i < a.n; ++i) {
    if (strings) {
      a.Str(i);
    } else {
      NumArg(a, i);
    }
  }
  for (int i = 1; i < a.n; ++i) {
    int c;
    if (strings) {
      int r = StringView(a[i - 1]).compare(StringView(a[i]));
      c = r < 0 ? -1 : r > 0 ? 1 : 0;
    } else {
      c = CompareNumbers(a[i - 1], a[i]);
    }
    if (c == kUnordered || !ok(c)) return Value::False();
  }
  return Value::True();
}

Value Less(const Args& a) {
  return Chain(a, [](int c) { return c < 0; });
}
Value Greater(const Args& a) {
  return Chain(a, [](int c) { return c > 0; });
}
Value LessEq(const Args& a) {
  return Chain(a, [](int c) { return c <= 0; });
}
Value GreaterEq(const Args& a) {
  return Chain(a, [](int c) { return c >= 0; });
}

bool AllNumericEqual(const Args& a) {
  for (int i = 1; i < a.n; ++i) {
    if (!NumericEqual(a[i - 1], a[i])) return false;
  }
  return true;
}

Value NumEq(const Args& a) { return Value::Bool(AllNumericEqual(a)); }
Value NumNotEq(const Args& a) { return Value::Bool(!AllNumericEqual(a)); }

// --- predicates -------------------------------------------------------------

Value NumberP(const Args& a) { return Value::Bool(IsNumber(a[0])); }
Value IntegerP(const Args& a) { return Value::Bool(IsInt(a[0])); }
Value FloatP(const Args& a) { return Value::Bool(a[0].IsFloat()); }

int SignOf(const Args& a) {
  Value x = NumArg(a, 0);
  if (IsInt(x)) return AsInt(x) < 0 ? -1 : AsInt(x) > 0 ? 1 : 0;
  return Sign(x.AsFloat());  // 0 for NaN, which ZeroP then rules out
}

Value ZeroP(const Args& a) {
  int s = SignOf(a);
  return Value::Bool(s == 0 && !(a[0].IsFloat() && std::isnan(a[0].AsFloat())));
}
Value PosP(const Args& a) { return Value::Bool(SignOf(a) > 0); }
Value NegP(const Args& a) { return Value::Bool(SignOf(a) < 0); }
Value EvenP(const Args& a) { return Value::Bool(a.Int(0) % 2 == 0); }
Value OddP(const Args& a) { return Value::Bool(a.Int(0) % 2 != 0); }

constexpr uint16_t P = kNativePure;

const NativeSpec kNumberNatives[] = {
    {"+", 0, -1, Add, "(+ n ...)\n\nSum of the numbers; 0 with none. Integer overflow is an error.",
     P},
    {"-", 1, -1, Sub,
     "(- n)  (- n m ...)\n\nNegation of n, or n minus each following number in turn.", P},
    {"*", 0, -1, Mul,
     "(* n ...)\n\nProduct of the numbers; 1 with none. Integer overflow is an error.", P},
    {"/", 1, -1, Div,
     "(/ n)  (/ n m ...)\n\nReciprocal of n, or n divided by each following number. Two integers "
     "that divide exactly give an integer, otherwise a float: (/ 6 2) is 3, (/ 7 2) is 3.5. "
     "Integer division by zero is an error; float division follows IEEE.",
     P},
    {"mod", 2, 2, Mod,
     "(mod n d)\n\nRemainder of n / d with the sign of the divisor: (mod -7 2) is 1.", P},
    {"rem", 2, 2, Rem,
     "(rem n d)\n\nRemainder of n / d with the sign of the dividend: (rem -7 2) is -1.", P},
    {"quot", 2, 2, Quot,
     "(quot n d)\n\nQuotient of n / d truncated toward zero: (quot -7 2) is -3.", P},
    {"abs", 1, 1, Abs, "(abs n)\n\nAbsolute value of n.", P},
    {"min", 1, -1, Min,
     "(min n ...)\n\nThe smallest argument, returned as given (an integer stays an integer). NaN "
     "if any argument is NaN.",
     P},
    {"max", 1, -1, Max,
     "(max n ...)\n\nThe largest argument, returned as given (an integer stays an integer). NaN "
     "if any argument is NaN.",
     P},
    {"floor", 1, 1, Floor,
     "(floor n)\n\nLargest integer not above n, as an integer; error if it does not fit in 64 "
     "bits.",
     P},
    {"ceil", 1, 1, Ceil,
     "(ceil n)\n\nSmallest integer not below n, as an integer; error if it does not fit in 64 "
     "bits.",
     P},
    {"round", 1, 1, Round,
     "(round n)\n\nNearest integer to n, halves away from zero: (round 2.5) is 3, (round -2.5) "
     "is -3.",
     P},
    {"sqrt", 1, 1, Sqrt, "(sqrt n)\n\nSquare root of n, always a float; NaN for a negative n.", P},
    {"expt", 2, 2, Expt,
     "(expt base power)\n\nbase raised to power. An integer base and non-negative integer power "
     "give an exact integer (overflow is an error); otherwise a float.",
     P},
    {"inc", 1, 1, Inc, "(inc n)\n\nn + 1.", P},
    {"dec", 1, 1, Dec, "(dec n)\n\nn - 1.", P},
    {"=", 1, -1, NumEq,
     "(= a b ...)\n\nTrue when all arguments are equal, numbers compared by value at any depth: "
     "(= 1 1.0) is true, (= (list 1) (list 1.0)) is true. Otherwise structural, like equal?.",
     P},
    {"!=", 1, -1, NumNotEq, "(!= a b ...)\n\n(not (= a b ...)).", P},
    {"<", 1, -1, Less,
     "(< a b ...)\n\nTrue when each argument is less than the next. All numbers (compared "
     "exactly, NaN compares false) or all strings (compared by bytes).",
     P},
    {">", 1, -1, Greater, "(> a b ...)\n\nTrue when each argument is greater than the next.", P},
    {"<=", 1, -1, LessEq, "(<= a b ...)\n\nTrue when each argument is at most the next.", P},
    {">=", 1, -1, GreaterEq, "(>= a b ...)\n\nTrue when each argument is at least the next.", P},
    {"number?", 1, 1, NumberP, "(number? x)\n\nTrue for an integer or a float.", P},
    {"integer?", 1, 1, IntegerP,
     "(integer? x)\n\nTrue for an integer. A float is never an integer?, even 2.0.", P},
    {"float?", 1, 1, FloatP, "(float? x)\n\nTrue for a float (including NaN and infinities).", P},
    {"zero?", 1, 1, ZeroP, "(zero? n)\n\nTrue when n is 0 or 0.0 (or -0.0).", P},
    {"pos?", 1, 1, PosP, "(pos? n)\n\nTrue when n is greater than zero.", P},
    {"neg?", 1, 1, NegP, "(neg? n)\n\nTrue when n is less than zero.", P},
    {"even?", 1, 1, EvenP, "(even? n)\n\nTrue when the integer n is even.", P},
    {"odd?", 1, 1, OddP, "(odd? n)\n\nTrue when the integer n is odd.", P},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

}  // namespace

const NativeSpec* NumberNatives() { return kNumberNatives; }

}  // namespace sx::interp
