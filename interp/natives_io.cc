// natives_io.cc — text forms of data, and output.
//
// `inspect` and `read-string` are inverses for every data value; `serialize`
// and `deserialize` are the same pair for persistence, except that
// `serialize` refuses a value with no text form (a function, a handle) rather
// than writing something that cannot be read back. Output goes through the
// State's output sink, so an embedder (or a test) can capture it.
#include <string>

#include "interp/natives_util.h"
#include "interp/printer.h"
#include "interp/reader.h"

namespace sx::interp {
namespace {

Value InspectFn(const Args& a) { return a.S.heap.MakeString(Inspect(a.S, a[0])); }

Value ReadStringFn(const Args& a) { return ReadString(a.S, a.StrView(0)); }

Value SerializeFn(const Args& a) {
  std::string out, error;
  if (!Serialize(a.S, a[0], &out, &error)) ThrowError(a.S, "serialize: " + error);
  return a.S.heap.MakeString(out);
}

Value DeserializeFn(const Args& a) { return ReadString(a.S, a.StrView(0)); }

// The display forms of the arguments separated by spaces.
std::string Joined(const Args& a) {
  std::string out;
  for (int i = 0; i < a.n; ++i) {
    if (i > 0) out.push_back(' ');
    DisplayTo(a.S, a[i], &out);
  }
  return out;
}

Value Print(const Args& a) {
  a.S.Write(Joined(a));
  return Value::Nil();
}

Value Println(const Args& a) {
  std::string line = Joined(a);
  line.push_back('\n');
  a.S.Write(line);
  return Value::Nil();
}

Value DisplayFn(const Args& a) {
  a.S.Write(Display(a.S, a[0]));
  return Value::Nil();
}

Value Newline(const Args& a) {
  a.S.Write("\n");
  return Value::Nil();
}

constexpr uint16_t P = kNativePure;

const NativeSpec kIoNatives[] = {
    {"inspect", 1, 1, InspectFn,
     "(inspect x)\n\nThe readable text of x: (read-string (inspect x)) is equal? to x for every "
     "data value. Strings come back quoted and escaped.",
     P},
    {"read-string", 1, 1, ReadStringFn,
     "(read-string s)\n\nThe one value written in s (trailing whitespace and comments allowed). "
     "Bad or incomplete text is an error.",
     P},
    {"serialize", 1, 1, SerializeFn,
     "(serialize x)\n\nThe persistence text of x; an error if x holds a function or anything "
     "else with no text form.",
     P},
    {"deserialize", 1, 1, DeserializeFn, "(deserialize s)\n\nThe value serialize wrote as s.", P},
    {"print", 0, -1, Print,
     "(print x ...)\n\nWrites the display forms of the arguments separated by spaces, without a "
     "newline. Returns nil.",
     0},
    {"println", 0, -1, Println, "(println x ...)\n\nLike print, then a newline. Returns nil.", 0},
    {"display", 1, 1, DisplayFn,
     "(display x)\n\nWrites the display form of x (a string without quotes). Returns nil.", 0},
    {"newline", 0, 0, Newline, "(newline)\n\nWrites a newline. Returns nil.", 0},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

}  // namespace

const NativeSpec* IoNatives() { return kIoNatives; }

}  // namespace sx::interp
