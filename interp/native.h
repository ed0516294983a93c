// native.h — natives: SX functions written in C++.
//
// A native is declared in a table of NativeSpec (name, arity, docstring,
// function) and installed with State::DefineNatives. It receives its
// arguments as an Args view and returns a Value. It reports an SX error by
// calling one of the Throw* helpers, which throw SxThrow; the machine catches
// it inside its step loop and raises the error value into the computation, so
// a C++ exception never crosses the machine's boundary.
//
// A builtin native does not call back into SX: natives that take functions
// (map, filter, sort, ...) are built into the machine as continuation frames,
// so a `perform` inside the callback suspends like any other. An embedder's
// native that calls back (sx.h, NativeOptions::calls_back) runs on a fiber
// (machine_fibers.cc).
//
// Argument errors have one shape:
//   "substring: argument 2 must be an integer, got \"x\""
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "interp/printer.h"
#include "interp/value.h"

namespace sx::interp {

class State;

// Thrown by natives (and the machine's own checks) to raise an SX error.
struct SxThrow {
  Value value;  // usually an error object (ErrorObj), but `raise` allows any
};

[[noreturn]] void ThrowError(State& S, std::string message, Value data = Value::Nil());

struct Args {
  State& S;
  const char* fn;  // the native's name, for error messages
  const Value* v;
  int n;
  void* user = nullptr;  // the Native's `user` pointer (embedder natives)

  Value operator[](int i) const { return v[i]; }
  int size() const { return n; }

  // Checked accessors; `i` is 0-based, messages count from 1.
  int64_t Int(int i) const;
  double Num(int i) const;  // integer or float, as double
  String* Str(int i) const;
  std::string_view StrView(int i) const;
  Value List(int i) const;  // () or a pair
  Value Dict(int i) const;
  Symbol* Sym(int i) const;
  Value Callable(int i) const;
  // A dict key: a string, or a keyword (meaning its name). Returns the String.
  String* Key(int i) const;

  [[noreturn]] void Fail(int i, const char* expected) const;
};

using NativeFn = Value (*)(const Args& a);

enum NativeFlags : uint16_t {
  kNativePure = 1,  // no side effects: may be constant-folded or evaluated inline
};

struct NativeSpec {
  const char* name;
  int min_args;
  int max_args;  // -1: variadic
  NativeFn fn;
  const char* doc;
  uint16_t flags = 0;
};

struct Native : Obj {
  NativeFn fn;
  const NativeSpec* spec;  // static storage, or owned by the embedder
  void* user;              // embedder data (see sx.h), nullptr for builtins
};

// The builtin native tables, one per concern (natives_*.cc). Each returns a
// table terminated by an entry whose name is nullptr.
const NativeSpec* NumberNatives();
const NativeSpec* ListNatives();
const NativeSpec* DictNatives();
// Is this the builtin `assoc`? The machine runs it as
// AssocIntoAccumulator where it has proven that the dict argument is a
// reduce's accumulator that nothing else can see (DictAssocTransient).
bool IsAssocNative(const Native* nat);
Value AssocIntoAccumulator(const Args& a);
const NativeSpec* StringNatives();
const NativeSpec* TypeNatives();
const NativeSpec* IoNatives();

}  // namespace sx::interp
