// native.cc — argument checking and error raising shared by every native.
#include "interp/native.h"

#include <fmt/format.h>

#include <string>

#include "interp/printer.h"
#include "interp/state.h"

namespace sx::interp {

void ThrowError(State& S, std::string message, Value data) {
  Value msg = S.heap.MakeString(message);
  throw SxThrow{S.heap.MakeError(msg, data)};
}

void Args::Fail(int i, const char* expected) const {
  ThrowError(
      S, fmt::format("{}: argument {} must be {}, got {}", fn, i + 1, expected, Brief(S, v[i])));
}

int64_t Args::Int(int i) const {
  if (!IsInt(v[i])) Fail(i, "an integer");
  return AsInt(v[i]);
}

double Args::Num(int i) const {
  if (!IsNumber(v[i])) Fail(i, "a number");
  return AsDouble(v[i]);
}

String* Args::Str(int i) const {
  if (!IsString(v[i])) Fail(i, "a string");
  return AsString(v[i]);
}

std::string_view Args::StrView(int i) const { return Str(i)->View(); }

Value Args::List(int i) const {
  if (!IsList(v[i])) Fail(i, "a list");
  return v[i];
}

Value Args::Dict(int i) const {
  if (!IsDict(v[i])) Fail(i, "a dict");
  return v[i];
}

Symbol* Args::Sym(int i) const {
  if (!IsSymbol(v[i])) Fail(i, "a symbol");
  return AsSymbol(v[i]);
}

Value Args::Callable(int i) const {
  if (!IsCallable(v[i])) Fail(i, "a function");
  return v[i];
}

String* Args::Key(int i) const {
  if (IsString(v[i])) return AsString(v[i]);
  if (IsKeyword(v[i])) return AsKeyword(v[i])->name;
  Fail(i, "a string or keyword key");
}

}  // namespace sx::interp
