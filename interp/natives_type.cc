// natives_type.cc — type predicates, equality and logic, error values, gensym.
//
// Three equalities: `=` (numbers.cc) compares numbers by value at any depth,
// `equal?` is structural and exact (1 and 1.0 differ), and `eq?` is identity:
// the same object, except that numbers, which have no identity of their own,
// are eq? when they are the same integer, or the same float bit for bit.
//
// Errors are values: `error` builds an error object and raises it, `raise`
// raises any value, and the machine unwinds to the nearest `guard`. Natives
// raise by throwing SxThrow, which the machine catches in its step loop.
#include <atomic>
#include <cstdint>
#include <string>

#include "interp/equal.h"
#include "interp/natives_util.h"
#include "interp/printer.h"

namespace sx::interp {
namespace {

Value TypeOf(const Args& a) { return a.S.heap.MakeString(TypeName(a[0])); }

Value NilP(const Args& a) { return Value::Bool(a[0].IsNil()); }
Value BooleanP(const Args& a) { return Value::Bool(a[0].IsBool()); }
Value StringP(const Args& a) { return Value::Bool(IsString(a[0])); }
Value SymbolP(const Args& a) { return Value::Bool(IsSymbol(a[0])); }
Value KeywordP(const Args& a) { return Value::Bool(IsKeyword(a[0])); }
Value FnP(const Args& a) { return Value::Bool(IsCallable(a[0])); }
Value ErrorP(const Args& a) { return Value::Bool(IsError(a[0])); }

Value EqualP(const Args& a) { return Value::Bool(Equal(a[0], a[1])); }

Value EqP(const Args& a) {
  Value x = a[0], y = a[1];
  if (IsInt(x) && IsInt(y)) return Value::Bool(AsInt(x) == AsInt(y));
  return Value::Bool(x == y);
}

Value Not(const Args& a) { return Value::Bool(!a[0].Truthy()); }

// --- errors -----------------------------------------------------------------

Value ErrorFn(const Args& a) {
  Value msg = IsString(a[0]) ? a[0] : a.S.heap.MakeString(Display(a.S, a[0]));
  Value data = a.n == 2 ? a[1] : Value::Nil();
  throw SxThrow{a.S.heap.MakeError(msg, data)};
}

Value Raise(const Args& a) { throw SxThrow{a[0]}; }

ErrorObj* ErrorArg(const Args& a, int i) {
  if (!IsError(a[i])) a.Fail(i, "an error");
  return static_cast<ErrorObj*>(a[i].AsObj());
}

Value ErrorMessage(const Args& a) { return ErrorArg(a, 0)->message; }
Value ErrorData(const Args& a) { return ErrorArg(a, 0)->data; }

// --- gensym -----------------------------------------------------------------

// The counter is shared by every State in the process: names only need to be
// fresh, and a process-wide counter is fresh for each State as well.
std::atomic<uint64_t> gensym_counter{0};

Value Gensym(const Args& a) {
  std::string name = "g";
  if (a.n == 1) {
    if (IsSymbol(a[0])) {
      name = std::string(AsSymbol(a[0])->name->View());
    } else {
      name = std::string(a.StrView(0));
    }
  }
  name += "__" + std::to_string(++gensym_counter);
  return Value::Object(a.S.heap.Intern(name));
}

constexpr uint16_t P = kNativePure;

const NativeSpec kTypeNatives[] = {
    {"type-of", 1, 1, TypeOf,
     "(type-of x)\n\nThe type of x as a string: \"nil\", \"boolean\", \"integer\", \"number\" "
     "(a float), \"string\", \"symbol\", \"keyword\", \"list\", \"dict\", \"fn\", \"error\", ...",
     P},
    {"nil?", 1, 1, NilP, "(nil? x)\n\nTrue for nil only (not for () or false).", P},
    {"boolean?", 1, 1, BooleanP, "(boolean? x)\n\nTrue for true and false.", P},
    {"string?", 1, 1, StringP, "(string? x)\n\nTrue for a string.", P},
    {"symbol?", 1, 1, SymbolP, "(symbol? x)\n\nTrue for a symbol.", P},
    {"keyword?", 1, 1, KeywordP, "(keyword? x)\n\nTrue for a keyword.", P},
    {"fn?", 1, 1, FnP, "(fn? x)\n\nTrue for anything callable: a closure or a native.", P},
    {"error?", 1, 1, ErrorP, "(error? x)\n\nTrue for an error value (as made by error).", P},
    {"equal?", 2, 2, EqualP,
     "(equal? a b)\n\nStructural, exact equality: lists and dicts compared deeply, strings by "
     "bytes, numbers by type and value, so (equal? 1 1.0) is false.",
     P},
    {"eq?", 2, 2, EqP,
     "(eq? a b)\n\nIdentity: the same object. Integers are eq? when equal, floats when the same "
     "bits; two strings with the same text may not be eq?.",
     P},
    {"not", 1, 1, Not, "(not x)\n\ntrue when x is nil or false, false for anything else.", P},
    {"error", 1, 2, ErrorFn,
     "(error msg)  (error msg data)\n\nRaises a new error value with message msg (a string; any "
     "other value is converted as by str) and optional data, which guard can catch.",
     0},
    {"raise", 1, 1, Raise, "(raise x)\n\nRaises x, any value, for guard to catch.", 0},
    {"error-message", 1, 1, ErrorMessage, "(error-message e)\n\nThe message string of error e.", P},
    {"error-data", 1, 1, ErrorData, "(error-data e)\n\nThe data of error e, nil when none.", P},
    {"gensym", 0, 1, Gensym,
     "(gensym)  (gensym prefix)\n\nA fresh symbol named prefix__N (prefix defaults to g), for "
     "macros that need a name no user code uses.",
     0},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

}  // namespace

const NativeSpec* TypeNatives() { return kTypeNatives; }

}  // namespace sx::interp
