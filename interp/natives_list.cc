// natives_list.cc — the list primitives that take no function argument.
//
// Lists are immutable chains of Pair cells ending in the empty list `()`,
// which is a value distinct from nil. Wherever these natives take a list they
// also accept nil and treat it as `()` (so `(first nil)` is nil and `(len nil)`
// is 0); `list?` itself stays exact and says false for nil. Every walk is a
// loop and every result is built front to back with ListBuilder, so list
// length is bounded by memory alone. The functions that call back into SX
// (map, filter, reduce, sort, ...) live in the machine, not here.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "interp/dict.h"
#include "interp/equal.h"
#include "interp/natives_util.h"

namespace sx::interp {
namespace {

Value Int(const Args& a, int64_t n) { return a.S.heap.MakeInt(n); }

// First element, or nil when the list is empty.
Value Head(Value list) { return IsPair(list) ? Car(list) : Value::Nil(); }

// The list after dropping n elements (or () when shorter).
Value Skip(Value list, size_t n) {
  for (; n > 0 && IsPair(list); --n) list = Cdr(list);
  return list;
}

Value ListFn(const Args& a) { return a.S.heap.ListFrom(a.v, static_cast<size_t>(a.n)); }

Value ConsFn(const Args& a) { return a.S.heap.Cons(a[0], SeqArg(a, 1)); }

Value First(const Args& a) { return Head(SeqArg(a, 0)); }

Value Rest(const Args& a) {
  Value l = SeqArg(a, 0);
  return IsPair(l) ? Cdr(l) : Value::EmptyList();
}

Value Second(const Args& a) { return Head(Skip(SeqArg(a, 0), 1)); }

Value Last(const Args& a) {
  Value l = SeqArg(a, 0);
  if (!IsPair(l)) return Value::Nil();
  while (IsPair(Cdr(l))) l = Cdr(l);
  return Car(l);
}

Value Nth(const Args& a) {
  Value l = SeqArg(a, 0);
  size_t i = IndexArg(a, 1);
  Value p = Skip(l, i);
  if (!IsPair(p)) {
    ThrowError(a.S, "nth: index " + std::to_string(i) + " out of range for a list of " +
                        std::to_string(ListLength(l)) + " elements");
  }
  return Car(p);
}

Value Len(const Args& a) {
  Value x = a[0];
  if (x.IsNil()) return Value::SmallInt(0);
  if (IsList(x)) return Int(a, static_cast<int64_t>(ListLength(x)));
  if (IsDict(x)) return Int(a, static_cast<int64_t>(DictCount(x)));
  if (IsString(x)) return Int(a, static_cast<int64_t>(Utf8Length(StringView(x))));
  a.Fail(0, "a list, dict or string");
}

Value EmptyP(const Args& a) {
  Value x = a[0];
  if (x.IsNil() || IsList(x)) return Value::Bool(!IsPair(x));
  if (IsDict(x)) return Value::Bool(DictCount(x) == 0);
  if (IsString(x)) return Value::Bool(AsString(x)->len == 0);
  a.Fail(0, "a list, dict or string");
}

Value ListP(const Args& a) { return Value::Bool(IsList(a[0])); }

// (append lst x ...): each later argument is concatenated when it is a list
// and added as one element otherwise (nil included, since nil is not a list).
Value Append(const Args& a) {
  if (a.n == 0) return Value::EmptyList();
  Value first = SeqArg(a, 0);
  if (a.n == 1) return first;
  ListBuilder out(a.S.heap);
  out.AddAll(first);
  for (int i = 1; i < a.n; ++i) {
    if (IsList(a[i])) {
      out.AddAll(a[i]);
    } else {
      out.Add(a[i]);
    }
  }
  return out.Done();
}

Value Concat(const Args& a) {
  for (int i = 0; i < a.n; ++i) SeqArg(a, i);  // check every argument first
  if (a.n == 1) return SeqArg(a, 0);
  ListBuilder out(a.S.heap);
  for (int i = 0; i < a.n; ++i) out.AddAll(SeqArg(a, i));
  return out.Done();
}

Value Reverse(const Args& a) {
  if (IsString(a[0])) {
    std::string_view s = StringView(a[0]);
    std::string r;
    r.reserve(s.size());
    size_t end = s.size();
    // Walk code points forward, then emit them back to front.
    std::vector<size_t> starts;
    for (size_t pos = 0; pos < end; pos = Utf8Next(s, pos)) starts.push_back(pos);
    for (size_t k = starts.size(); k > 0; --k) {
      r.append(s.substr(starts[k - 1], end - starts[k - 1]));
      end = starts[k - 1];
    }
    return a.S.heap.MakeString(r);
  }
  if (!a[0].IsNil() && !IsList(a[0])) a.Fail(0, "a list or string");
  Value out = Value::EmptyList();
  for (Value p = SeqArg(a, 0); IsPair(p); p = Cdr(p)) out = a.S.heap.Cons(Car(p), out);
  return out;
}

// take and drop accept (take n lst) and (take lst n), told apart by type.
void CountAndList(const Args& a, size_t* n, Value* list) {
  if (IsInt(a[0])) {
    *n = IndexArg(a, 0);
    *list = SeqArg(a, 1);
  } else if (a[0].IsNil() || IsList(a[0])) {
    *list = SeqArg(a, 0);
    *n = IndexArg(a, 1);
  } else {
    a.Fail(0, "an integer or a list");
  }
}

Value Take(const Args& a) {
  size_t n;
  Value l;
  CountAndList(a, &n, &l);
  ListBuilder out(a.S.heap);
  for (Value p = l; n > 0 && IsPair(p); p = Cdr(p), --n) out.Add(Car(p));
  return out.Done();
}

Value Drop(const Args& a) {
  size_t n;
  Value l;
  CountAndList(a, &n, &l);
  return Skip(l, n);
}

// A range longer than this is refused up front: (range 0 ##Inf) or
// (range 1e15) is a mistake, and building it would only exhaust memory.
constexpr double kMaxRangeLength = double(1 << 28);

[[noreturn]] void RangeTooLong(const Args& a) {
  ThrowError(a.S, "range: more than " + std::to_string(int64_t{1} << 28) + " elements");
}

Value Range(const Args& a) {
  for (int i = 0; i < a.n; ++i) {
    if (!IsNumber(a[i])) a.Fail(i, "a number");
  }
  Value start = a.n == 1 ? Value::SmallInt(0) : a[0];
  Value end = a.n == 1 ? a[0] : a[1];
  Value step = a.n == 3 ? a[2] : Value::SmallInt(1);
  ListBuilder out(a.S.heap);
  if (IsInt(start) && IsInt(end) && IsInt(step)) {
    int64_t x = AsInt(start), b = AsInt(end), s = AsInt(step);
    if (s == 0) ThrowError(a.S, "range: step must not be zero");
    // The span fits in 65 bits; a double estimate is enough for the limit.
    double count = (static_cast<double>(b) - static_cast<double>(x)) / static_cast<double>(s);
    if (count > kMaxRangeLength) RangeTooLong(a);
    for (; s > 0 ? x < b : x > b;) {
      out.Add(Int(a, x));
      if (__builtin_add_overflow(x, s, &x)) break;
    }
    return out.Done();
  }
  double x0 = AsDouble(start), b = AsDouble(end), s = AsDouble(step);
  if (s == 0 || std::isnan(s)) ThrowError(a.S, "range: step must be a non-zero number");
  double count = (b - x0) / s;
  if (std::isnan(count)) ThrowError(a.S, "range: start and end must not be NaN");
  if (count > kMaxRangeLength) RangeTooLong(a);
  // Multiply rather than accumulate, so rounding error does not build up.
  for (int64_t i = 0;; ++i) {
    double x = x0 + static_cast<double>(i) * s;
    if (!(s > 0 ? x < b : x > b)) break;
    out.Add(Value::Float(x));
  }
  return out.Done();
}

// Position of x in a list by `=`, or -1.
int64_t ListIndex(Value list, Value x) {
  int64_t i = 0;
  for (Value p = list; IsPair(p); p = Cdr(p), ++i) {
    if (NumericEqual(Car(p), x)) return i;
  }
  return -1;
}

Value ContainsP(const Args& a) {
  Value c = a[0], x = a[1];
  if (c.IsNil() || IsList(c)) return Value::Bool(ListIndex(c, x) >= 0);
  if (IsDict(c)) {
    if (IsKeyword(x)) x = Value::Object(AsKeyword(x)->name);
    if (!IsString(x)) return Value::False();
    return Value::Bool(!DictGet(c, x).IsUndefined());
  }
  if (IsString(c)) return Value::Bool(StringView(c).find(a.StrView(1)) != std::string_view::npos);
  a.Fail(0, "a list, dict or string");
}

Value IndexOf(const Args& a) {
  Value c = a[0];
  if (c.IsNil() || IsList(c)) {
    int64_t i = ListIndex(c, a[1]);
    return i < 0 ? Value::Nil() : Int(a, i);
  }
  if (IsString(c)) {
    std::string_view s = StringView(c);
    size_t at = s.find(a.StrView(1));
    if (at == std::string_view::npos) return Value::Nil();
    return Int(a, static_cast<int64_t>(Utf8Length(s.substr(0, at))));
  }
  a.Fail(0, "a list or string");
}

Value Zip(const Args& a) {
  std::vector<Value> cursors(static_cast<size_t>(a.n));
  for (int i = 0; i < a.n; ++i) cursors[static_cast<size_t>(i)] = SeqArg(a, i);
  ListBuilder out(a.S.heap);
  for (;;) {
    for (Value c : cursors) {
      if (!IsPair(c)) return out.Done();
    }
    ListBuilder tuple(a.S.heap);
    for (Value& c : cursors) {
      tuple.Add(Car(c));
      c = Cdr(c);
    }
    out.Add(tuple.Done());
  }
}

Value Flatten(const Args& a) {
  ListBuilder out(a.S.heap);
  std::vector<Value> stack{SeqArg(a, 0)};  // the rest of each list being walked
  while (!stack.empty()) {
    Value& top = stack.back();
    if (!IsPair(top)) {
      stack.pop_back();
      continue;
    }
    Value x = Car(top);
    top = Cdr(top);
    if (IsList(x)) {
      stack.push_back(x);
    } else {
      out.Add(x);
    }
  }
  return out.Done();
}

// A shallow hash consistent with NumericEqual: values that are `=` hash alike.
size_t ShallowHash(Value v, int depth = 0) {
  if (IsNumber(v)) {
    double d = AsDouble(v);
    if (d == 0) d = 0;  // -0.0 = 0
    return std::hash<double>{}(d);
  }
  if (IsString(v)) return std::hash<std::string_view>{}(StringView(v));
  if (IsSymbol(v)) return std::hash<std::string_view>{}(AsSymbol(v)->name->View()) * 3;
  if (IsKeyword(v)) return std::hash<std::string_view>{}(AsKeyword(v)->name->View()) * 5;
  if (IsList(v)) {
    size_t h = 7, n = 0;
    for (Value p = v; IsPair(p); p = Cdr(p), ++n) {
      if (depth == 0 && n < 8) h = h * 31 + ShallowHash(Car(p), 1);
    }
    return h * 31 + n;
  }
  if (IsDict(v)) return DictCount(v) * 11;
  return 13;  // anything else: compared one by one
}

Value Distinct(const Args& a) {
  Value l = SeqArg(a, 0);
  std::unordered_multimap<size_t, Value> seen;
  ListBuilder out(a.S.heap);
  for (Value p = l; IsPair(p); p = Cdr(p)) {
    Value x = Car(p);
    size_t h = ShallowHash(x);
    auto [it, end] = seen.equal_range(h);
    bool dup = false;
    for (; it != end && !dup; ++it) dup = NumericEqual(it->second, x);
    if (dup) continue;
    seen.emplace(h, x);
    out.Add(x);
  }
  return out.Done();
}

constexpr uint16_t P = kNativePure;

const NativeSpec kListNatives[] = {
    {"list", 0, -1, ListFn, "(list x ...)\n\nA new list of the arguments.", P},
    {"cons", 2, 2, ConsFn,
     "(cons x lst)\n\nThe list with x in front of lst (nil counts as ()). Improper lists do not "
     "exist: lst must be a list.",
     P},
    {"first", 1, 1, First, "(first lst)\n\nThe first element; nil for () or nil.", P},
    {"rest", 1, 1, Rest, "(rest lst)\n\nThe list without its first element; () for () or nil.", P},
    {"second", 1, 1, Second, "(second lst)\n\nThe second element, or nil.", P},
    {"last", 1, 1, Last, "(last lst)\n\nThe last element, or nil for an empty list.", P},
    {"nth", 2, 2, Nth,
     "(nth lst i)\n\nElement i (from 0). An index past the end is an error; see get for the "
     "forgiving version.",
     P},
    {"len", 1, 1, Len,
     "(len x)\n\nNumber of elements of a list, entries of a dict, or code points of a string; 0 "
     "for nil.",
     P},
    {"count", 1, 1, Len, "(count x)\n\nSame as len.", P},
    {"append", 0, -1, Append,
     "(append lst x ...)\n\nlst followed by each later argument: a list argument is concatenated, "
     "anything else (nil too) is added as one element. (append '(1) 2 '(3 4)) is (1 2 3 4).",
     P},
    {"concat", 0, -1, Concat, "(concat lst ...)\n\nAll the lists joined in order.", P},
    {"reverse", 1, 1, Reverse,
     "(reverse x)\n\nA list in reverse order, or a string with its code points reversed.", P},
    {"take", 2, 2, Take,
     "(take n lst)\n\nThe first n elements (all of them when shorter). (take lst n) also works.",
     P},
    {"drop", 2, 2, Drop,
     "(drop n lst)\n\nThe list without its first n elements. (drop lst n) also works.", P},
    {"range", 1, 3, Range,
     "(range end)  (range start end)  (range start end step)\n\nNumbers from start (0) up to but "
     "not including end, by step (1; may be negative, not zero). Integers when all arguments "
     "are integers, floats otherwise. At most 2^28 elements.",
     P},
    {"contains?", 2, 2, ContainsP,
     "(contains? coll x)\n\nFor a list, whether some element is = to x; for a dict, whether x "
     "is a key; for a string, whether x is a substring.",
     P},
    {"index-of", 2, 2, IndexOf,
     "(index-of coll x)\n\nPosition of the first element = to x in a list, or of the substring x "
     "in a string (in code points); nil when absent.",
     P},
    {"empty?", 1, 1, EmptyP, "(empty? x)\n\nTrue for (), nil, an empty dict or an empty string.",
     P},
    {"list?", 1, 1, ListP, "(list? x)\n\nTrue for a list, () included; false for nil.", P},
    {"zip", 1, -1, Zip,
     "(zip lst ...)\n\nList of lists taking one element from each argument in turn, as long as "
     "the shortest: (zip '(1 2) '(a b)) is ((1 a) (2 b)).",
     P},
    {"flatten", 1, 1, Flatten,
     "(flatten lst)\n\nThe non-list elements of lst and of every list nested in it, in order.", P},
    {"distinct", 1, 1, Distinct,
     "(distinct lst)\n\nlst without repeats (compared with =), keeping first occurrences.", P},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

}  // namespace

const NativeSpec* ListNatives() { return kListNatives; }

}  // namespace sx::interp
