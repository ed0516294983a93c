// equal.cc — equal?, = and the ordering used by sort.
//
// All three walk nested data with an explicit stack of pending pairs. For
// lists the stack holds (car, car) and (cdr, cdr) separately, so a flat list
// of any length needs two slots and only nesting depth grows the stack.
//
// Numbers: equal? is exact (1 and 1.0 differ; 0.0 and -0.0 differ, since they
// print differently; NaN equals NaN). `=` compares by value (1 = 1.0,
// 0.0 = -0.0) with IEEE NaN, which equals nothing. Integers and floats are
// compared exactly, never by converting the integer to a double.
#include "interp/equal.h"

#include <cmath>
#include <string>
#include <vector>

#include "interp/dict.h"
#include "interp/native.h"
#include "interp/state.h"

namespace sx::interp {

namespace {

// Three-way comparison of an integer with a non-NaN double, without
// rounding the integer.
int CompareIntDouble(int64_t i, double d) {
  if (d >= 9223372036854775808.0) return -1;  // 2^63
  if (d < -9223372036854775808.0) return 1;
  double t = std::trunc(d);
  auto ti = static_cast<int64_t>(t);
  if (i != ti) return i < ti ? -1 : 1;
  if (d > t) return -1;
  if (d < t) return 1;
  return 0;
}

// Numbers by value; NaN sorts after every other number and equal to itself,
// so sorting stays a total order.
int CompareNumbers(Value a, Value b) {
  if (IsInt(a) && IsInt(b)) {
    int64_t x = AsInt(a), y = AsInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (IsInt(a) || IsInt(b)) {
    bool a_int = IsInt(a);
    double d = a_int ? b.AsFloat() : a.AsFloat();
    int64_t i = AsInt(a_int ? a : b);
    int c = std::isnan(d) ? -1 : CompareIntDouble(i, d);
    return a_int ? c : -c;
  }
  double x = a.AsFloat(), y = b.AsFloat();
  bool xn = std::isnan(x), yn = std::isnan(y);
  if (xn || yn) return xn == yn ? 0 : xn ? 1 : -1;
  return x < y ? -1 : x > y ? 1 : 0;
}

bool NumbersEqual(Value a, Value b, bool numeric) {
  if (!numeric) {
    if (IsInt(a) != IsInt(b)) return false;
    if (IsInt(a)) return AsInt(a) == AsInt(b);
    return a.Bits() == b.Bits();  // NaN is canonical, so NaN equals NaN
  }
  if (a.IsFloat() && std::isnan(a.AsFloat())) return false;
  if (b.IsFloat() && std::isnan(b.AsFloat())) return false;
  return CompareNumbers(a, b) == 0;
}

bool Walk(Value a, Value b, bool numeric) {
  std::vector<std::pair<Value, Value>> todo;
  todo.emplace_back(a, b);
  while (!todo.empty()) {
    Value x = todo.back().first, y = todo.back().second;
    todo.pop_back();
    if (IsNumber(x) && IsNumber(y)) {
      if (!NumbersEqual(x, y, numeric)) return false;
      continue;
    }
    if (x == y) continue;
    if (!x.IsObj() || !y.IsObj() || x.AsObj()->type != y.AsObj()->type) return false;
    switch (x.AsObj()->type) {
      case ObjType::kString:
        if (StringView(x) != StringView(y)) return false;
        break;
      case ObjType::kPair:
        todo.emplace_back(Cdr(x), Cdr(y));
        todo.emplace_back(Car(x), Car(y));
        break;
      case ObjType::kDict: {
        if (DictCount(x) != DictCount(y)) return false;
        bool same = true;
        DictForEach(x, [&](String* key, Value val) {
          if (!same) return;
          Value other = DictGet(y, key);
          if (other.IsUndefined()) {
            same = false;
          } else {
            todo.emplace_back(val, other);
          }
        });
        if (!same) return false;
        break;
      }
      default:
        return false;  // symbols and keywords are interned; the rest compare by identity
    }
  }
  return true;
}

int CompareBytes(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

// Compares two values that are not both lists.
int CompareAtoms(State& S, Value a, Value b) {
  if (IsNumber(a) && IsNumber(b)) return CompareNumbers(a, b);
  if (IsString(a) && IsString(b)) return CompareBytes(StringView(a), StringView(b));
  if (IsSymbol(a) && IsSymbol(b)) {
    return CompareBytes(AsSymbol(a)->name->View(), AsSymbol(b)->name->View());
  }
  if (IsKeyword(a) && IsKeyword(b)) {
    return CompareBytes(AsKeyword(a)->name->View(), AsKeyword(b)->name->View());
  }
  if (a.IsBool() && b.IsBool()) return a.IsTrue() == b.IsTrue() ? 0 : a.IsTrue() ? 1 : -1;
  if (a.IsNil() && b.IsNil()) return 0;
  ThrowError(S, std::string("cannot compare ") + TypeName(a) + " with " + TypeName(b));
}

}  // namespace

bool Equal(Value a, Value b) { return Walk(a, b, false); }

bool NumericEqual(Value a, Value b) { return Walk(a, b, true); }

int Compare(State& S, Value a, Value b) {
  // Open list pairs being compared element by element.
  std::vector<std::pair<Value, Value>> lists;
  auto step = [&](Value x, Value y) {
    if (IsList(x) && IsList(y)) {
      lists.emplace_back(x, y);
      return 0;
    }
    return CompareAtoms(S, x, y);
  };
  if (int c = step(a, b)) return c;
  while (!lists.empty()) {
    auto [x, y] = lists.back();
    if (!IsPair(x) || !IsPair(y)) {
      if (IsPair(x)) return 1;
      if (IsPair(y)) return -1;
      lists.pop_back();
      continue;
    }
    lists.back() = {Cdr(x), Cdr(y)};
    if (int c = step(Car(x), Car(y))) return c;
  }
  return 0;
}

}  // namespace sx::interp
