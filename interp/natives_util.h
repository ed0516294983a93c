// natives_util.h — small helpers shared by the builtin native tables
// (natives_*.cc). Not an interface for the rest of the interpreter.
//
// Lists are built front to back with ListBuilder, which patches the tail cell
// of a list nobody else can see yet, so building a list of a million elements
// needs neither recursion nor a temporary array. Strings are UTF-8 by
// convention but may hold any bytes; the code point helpers count a byte that
// does not start a well-formed sequence as one code point of its own, so
// every byte string has a well-defined length and every index maps to a byte
// offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "interp/heap.h"
#include "interp/native.h"
#include "interp/state.h"
#include "interp/value.h"

namespace sx::interp {

// Appends values to a fresh list in order.
class ListBuilder {
 public:
  explicit ListBuilder(Heap& heap) : heap_(heap) {}

  void Add(Value x) {
    Value cell = heap_.Cons(x, Value::EmptyList());
    if (IsPair(tail_)) {
      AsPair(tail_)->cdr = cell;
    } else {
      head_ = cell;
    }
    tail_ = cell;
  }
  // Appends every element of `list`.
  void AddAll(Value list) {
    for (Value p = list; IsPair(p); p = Cdr(p)) Add(Car(p));
  }
  Value Done() const { return head_; }

 private:
  Heap& heap_;
  Value head_ = Value::EmptyList();
  Value tail_ = Value::EmptyList();
};

// A list argument where nil is accepted as the empty list.
inline Value SeqArg(const Args& a, int i) { return a[i].IsNil() ? Value::EmptyList() : a.List(i); }

inline size_t ListLength(Value list) {
  size_t n = 0;
  for (Value p = list; IsPair(p); p = Cdr(p)) ++n;
  return n;
}

// Byte offset just past the code point that starts at `pos` (< s.size()).
inline size_t Utf8Next(std::string_view s, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b = byte(pos);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len <= 1 || pos + len > s.size()) return pos + 1;
  for (size_t i = 1; i < len; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return pos + 1;
  }
  return pos + len;
}

inline size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); pos = Utf8Next(s, pos)) ++n;
  return n;
}

// Byte offset of code point `index`; s.size() when index is the length.
// Returns SIZE_MAX when index is past the end.
inline size_t Utf8Offset(std::string_view s, size_t index) {
  size_t pos = 0;
  for (size_t i = 0; i < index; ++i) {
    if (pos >= s.size()) return SIZE_MAX;
    pos = Utf8Next(s, pos);
  }
  return pos;
}

// A non-negative integer argument (an index or a count).
inline size_t IndexArg(const Args& a, int i) {
  int64_t n = a.Int(i);
  if (n < 0) a.Fail(i, "a non-negative integer");
  return static_cast<size_t>(n);
}

}  // namespace sx::interp
