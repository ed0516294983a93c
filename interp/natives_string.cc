// natives_string.cc — string primitives and conversions between strings,
// numbers, symbols and keywords.
//
// Strings are immutable byte strings holding UTF-8 by convention. Lengths and
// indices (`len`, `substring`, `index-of`) count code points, so "é" has
// length 1; a byte that is not part of a well-formed sequence counts as one
// code point, so any byte string still has a consistent length. Case mapping
// and trimming are ASCII-only: other bytes pass through unchanged, so they
// never corrupt multibyte text.
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "interp/natives_util.h"
#include "interp/printer.h"

namespace sx::interp {
namespace {

Value MakeStr(const Args& a, std::string_view s) { return a.S.heap.MakeString(s); }

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// str, print and join show nil as nothing at all.
void AppendShown(State& S, Value v, std::string* out) {
  if (!v.IsNil()) DisplayTo(S, v, out);
}

Value Str(const Args& a) {
  if (a.n >= 2 && IsString(a[0])) {
    // (str s more...) appends to s, in place when s ends its buffer.
    std::string tail;
    for (int i = 1; i < a.n; ++i) AppendShown(a.S, a[i], &tail);
    return a.S.heap.AppendString(AsString(a[0]), tail);
  }
  std::string out;
  for (int i = 0; i < a.n; ++i) AppendShown(a.S, a[i], &out);
  return MakeStr(a, out);
}

Value Substring(const Args& a) {
  std::string_view s = a.StrView(0);
  size_t start = IndexArg(a, 1);
  size_t len = Utf8Length(s);
  size_t end = a.n == 3 ? IndexArg(a, 2) : len;
  if (start > end || end > len) {
    ThrowError(a.S, "substring: range " + std::to_string(start) + ".." + std::to_string(end) +
                        " is out of bounds for a string of " + std::to_string(len) +
                        " code points");
  }
  size_t from = Utf8Offset(s, start);
  size_t to = Utf8Offset(s, end);
  return MakeStr(a, s.substr(from, to - from));
}

Value Split(const Args& a) {
  std::string_view s = a.StrView(0);
  std::string_view sep = a.StrView(1);
  ListBuilder out(a.S.heap);
  if (sep.empty()) {
    for (size_t pos = 0; pos < s.size();) {
      size_t next = Utf8Next(s, pos);
      out.Add(MakeStr(a, s.substr(pos, next - pos)));
      pos = next;
    }
    return out.Done();
  }
  size_t pos = 0;
  for (;;) {
    size_t at = s.find(sep, pos);
    if (at == std::string_view::npos) break;
    out.Add(MakeStr(a, s.substr(pos, at - pos)));
    pos = at + sep.size();
  }
  out.Add(MakeStr(a, s.substr(pos)));
  return out.Done();
}

// (join sep lst), (join lst sep) and (join lst), told apart by type.
Value Join(const Args& a) {
  std::string_view sep;
  Value list;
  if (a.n == 1) {
    list = SeqArg(a, 0);
  } else if (IsString(a[0])) {
    sep = StringView(a[0]);
    list = SeqArg(a, 1);
  } else {
    if (!a[0].IsNil() && !IsList(a[0])) a.Fail(0, "a string or a list");
    list = SeqArg(a, 0);
    sep = a.StrView(1);
  }
  std::string out;
  for (Value p = list; IsPair(p); p = Cdr(p)) {
    if (p != list) out.append(sep);
    AppendShown(a.S, Car(p), &out);
  }
  return MakeStr(a, out);
}

Value MapAscii(const Args& a, char (*f)(char)) {
  std::string s(a.StrView(0));
  for (char& c : s) c = f(c);
  return MakeStr(a, s);
}

Value Upper(const Args& a) {
  return MapAscii(a, [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
}
Value Lower(const Args& a) {
  return MapAscii(a, [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
}

Value Trim(const Args& a) { return MakeStr(a, TrimView(a.StrView(0))); }

Value StartsWithP(const Args& a) { return Value::Bool(a.StrView(0).starts_with(a.StrView(1))); }
Value EndsWithP(const Args& a) { return Value::Bool(a.StrView(0).ends_with(a.StrView(1))); }
Value IncludesP(const Args& a) {
  return Value::Bool(a.StrView(0).find(a.StrView(1)) != std::string_view::npos);
}

Value Replace(const Args& a) {
  std::string_view s = a.StrView(0), from = a.StrView(1), to = a.StrView(2);
  if (from.empty()) a.Fail(1, "a non-empty string");
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t at = s.find(from, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos)).append(to);
    pos = at + from.size();
  }
  out.append(s.substr(pos));
  return MakeStr(a, out);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Decimal integers and floats as the reader writes them, surrounded by
// optional ASCII whitespace; nil for anything else, including integers that
// do not fit in 64 bits.
Value StringToNumber(const Args& a) {
  std::string_view t = TrimView(a.StrView(0));
  if (t == "##NaN") return Value::Float(std::numeric_limits<double>::quiet_NaN());
  if (t == "##Inf") return Value::Float(std::numeric_limits<double>::infinity());
  if (t == "##-Inf") return Value::Float(-std::numeric_limits<double>::infinity());
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  std::string_view body = !t.empty() && t[0] == '-' ? t.substr(1) : t;
  bool starts_ok = !body.empty() &&
                   (IsDigit(body[0]) || (body[0] == '.' && body.size() > 1 && IsDigit(body[1])));
  if (!starts_ok) return Value::Nil();
  const char* first = t.data();
  const char* last = t.data() + t.size();
  int64_t n;
  auto ri = std::from_chars(first, last, n);
  if (ri.ptr == last) {
    return ri.ec == std::errc() ? a.S.heap.MakeInt(n) : Value::Nil();
  }
  double d;
  auto rd = std::from_chars(first, last, d, std::chars_format::general);
  if (rd.ec != std::errc() || rd.ptr != last) return Value::Nil();
  return Value::Float(d);
}

Value NumberToString(const Args& a) {
  if (!IsNumber(a[0])) a.Fail(0, "a number");
  if (a.n == 1) return MakeStr(a, Inspect(a.S, a[0]));
  int64_t radix = a.Int(1);
  if (radix < 2 || radix > 36) a.Fail(1, "a radix from 2 to 36");
  if (!IsInt(a[0])) a.Fail(0, "an integer (with a radix)");
  int64_t n = AsInt(a[0]);
  char buf[72];
  auto r = std::to_chars(buf, buf + sizeof buf, n, static_cast<int>(radix));
  return MakeStr(a, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

Value StringToSymbol(const Args& a) { return Value::Object(a.S.heap.Intern(a.StrView(0))); }

Value SymbolToString(const Args& a) { return Value::Object(a.Sym(0)->name); }

// The name string of a keyword, symbol or string argument.
String* NameOf(const Args& a, int i) {
  Value v = a[i];
  if (IsString(v)) return AsString(v);
  if (IsKeyword(v)) return AsKeyword(v)->name;
  if (IsSymbol(v)) return AsSymbol(v)->name;
  a.Fail(i, "a keyword, symbol or string");
}

Value KeywordFn(const Args& a) {
  if (IsKeyword(a[0])) return a[0];
  return Value::Object(a.S.heap.InternKeyword(NameOf(a, 0)->View()));
}

Value Name(const Args& a) { return Value::Object(NameOf(a, 0)); }

constexpr uint16_t P = kNativePure;

const NativeSpec kStringNatives[] = {
    {"str", 0, -1, Str,
     "(str x ...)\n\nOne string of the display form of each argument: strings as their "
     "characters, nil as nothing, anything else as inspect shows it. (str \"a\" 1 nil :k) is "
     "\"a1:k\".",
     P},
    {"substring", 2, 3, Substring,
     "(substring s start)  (substring s start end)\n\nThe code points of s from start up to but "
     "not including end (default: the end). Out-of-range indices are an error.",
     P},
    {"split", 2, 2, Split,
     "(split s sep)\n\nThe pieces of s between occurrences of the string sep, empty pieces "
     "kept: (split \"a,,b,\" \",\") is (\"a\" \"\" \"b\" \"\"). An empty sep splits into code "
     "points.",
     P},
    {"join", 1, 2, Join,
     "(join sep lst)  (join lst sep)  (join lst)\n\nThe display forms of the elements of lst "
     "with the string sep between them (none when omitted).",
     P},
    {"upper", 1, 1, Upper, "(upper s)\n\ns with ASCII letters in upper case.", P},
    {"lower", 1, 1, Lower, "(lower s)\n\ns with ASCII letters in lower case.", P},
    {"trim", 1, 1, Trim, "(trim s)\n\ns without leading and trailing ASCII whitespace.", P},
    {"starts-with?", 2, 2, StartsWithP, "(starts-with? s prefix)\n\nWhether s begins with prefix.",
     P},
    {"ends-with?", 2, 2, EndsWithP, "(ends-with? s suffix)\n\nWhether s ends with suffix.", P},
    {"includes?", 2, 2, IncludesP, "(includes? s part)\n\nWhether part occurs in s.", P},
    {"replace", 3, 3, Replace,
     "(replace s old new)\n\ns with every occurrence of the non-empty string old replaced by "
     "new.",
     P},
    {"string->number", 1, 1, StringToNumber,
     "(string->number s)\n\nThe integer or float that s spells in decimal (\"42\", \"-1.5e3\", "
     "\"##NaN\"; surrounding whitespace allowed), or nil when s is not a number.",
     P},
    {"number->string", 1, 2, NumberToString,
     "(number->string n)  (number->string n radix)\n\nThe text of n as inspect writes it; with a "
     "radix from 2 to 36 an integer is written in that base.",
     P},
    {"string->symbol", 1, 1, StringToSymbol, "(string->symbol s)\n\nThe symbol named s.", P},
    {"symbol->string", 1, 1, SymbolToString, "(symbol->string sym)\n\nThe name of sym.", P},
    {"keyword", 1, 1, KeywordFn,
     "(keyword x)\n\nThe keyword named by the string, symbol or keyword x: (keyword \"a\") is :a.",
     P},
    {"name", 1, 1, Name,
     "(name x)\n\nThe name of a keyword or symbol as a string (without the colon); a string is "
     "returned as is.",
     P},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

}  // namespace

const NativeSpec* StringNatives() { return kStringNatives; }

}  // namespace sx::interp
