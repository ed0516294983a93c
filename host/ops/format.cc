// format.cc — `format` over the fmt library, and the pretty printer.
//
// format hands fmt the format string and one argument per SX value, stored
// in a fmt::dynamic_format_arg_store; fmt reads the fields and their specs.
// Each argument is an SxArg whose formatter takes its spec as fmt hands it
// over and formats the value as the C++ type that fits it (int64_t, double,
// bool, string), so "{:>8.2f}" means what it means in C++ and Python. The
// SxArg also notes that it was used, which lets format refuse arguments no
// field asks for (fmt itself ignores them).
//
// The pretty printer writes a value on one line when it fits the width and
// otherwise breaks lists one element per line and dicts one entry per line,
// each indented under its opening bracket, recursively. Leaves are always
// written by the interpreter's printer (inspect), so pretty text reads back
// as the same value.
#include "host/ops/format.h"

#include <fmt/args.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

namespace sx::host {

namespace {

// One SX argument of format; `used` is set when a field formats it.
struct SxArg {
  const Value* value;
  char* used;
  size_t index;  // 1-based position among format's arguments (the string is 0)
};

// The most padding, digits and other bytes one field may add to the text of
// its value (16 MiB).
constexpr size_t kMaxFieldBytes = size_t{1} << 24;

struct FieldTooBig {};

// An output iterator appending to a string, which throws FieldTooBig once
// the string would pass `cap` bytes.
struct CappedAppender {
  using iterator_category = std::output_iterator_tag;
  using value_type = void;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = void;

  std::string* out;
  size_t cap;

  CappedAppender& operator=(char c) {
    if (out->size() >= cap) throw FieldTooBig{};
    out->push_back(c);
    return *this;
  }
  CappedAppender& operator*() { return *this; }
  CappedAppender& operator++() { return *this; }
  CappedAppender operator++(int) { return *this; }
};

// A field's spec did not suit its argument.
struct ArgSpecError {
  size_t index;
  std::string spec;
  std::string why;
};

}  // namespace
}  // namespace sx::host

template <>
struct fmt::formatter<sx::host::SxArg> {
  std::string spec;  // what follows ':' in the field, without the closing '}'

  auto parse(format_parse_context& ctx) -> format_parse_context::iterator {
    auto it = ctx.begin();
    while (it != ctx.end() && *it != '}') ++it;
    spec.assign(ctx.begin(), it);
    return it;
  }

  auto format(const sx::host::SxArg& a, format_context& ctx) const -> format_context::iterator {
    *a.used = 1;
    std::string field = spec.empty() ? "{}" : "{:" + spec + "}";
    const sx::Value& v = *a.value;
    try {
      if (v.IsInt()) {
        try {
          return Emit(a, ctx, field, v.AsInt());
        } catch (const fmt::format_error&) {
          // "{:.2f}" of an integer: format it as the number it is.
          return Emit(a, ctx, field, static_cast<double>(v.AsInt()));
        }
      }
      if (v.IsFloat()) return Emit(a, ctx, field, v.AsDouble());
      if (v.IsBool()) return Emit(a, ctx, field, v.AsBool());
      return Emit(a, ctx, field, v.Display());
    } catch (const fmt::format_error& e) {
      throw sx::host::ArgSpecError{a.index, spec, e.what()};
    }
  }

  // Formats x into a string that may not grow past its own size plus
  // kMaxFieldBytes, so a width like {:2000000000} stops early with an error
  // rather than building gigabytes of padding.
  template <typename T>
  auto Emit(const sx::host::SxArg& a, format_context& ctx, const std::string& field,
            const T& x) const -> format_context::iterator {
    size_t own = 0;
    if constexpr (std::is_same_v<T, std::string>) own = x.size();
    std::string text;
    try {
      fmt::format_to(sx::host::CappedAppender{&text, own + sx::host::kMaxFieldBytes},
                     fmt::runtime(field), x);
    } catch (const sx::host::FieldTooBig&) {
      throw sx::host::ArgSpecError{a.index, spec,
                                   "the field would add more than " +
                                       std::to_string(sx::host::kMaxFieldBytes) +
                                       " bytes to its value"};
    }
    return std::copy(text.begin(), text.end(), ctx.out());
  }
};

namespace sx::host {

namespace {

Value Format(Interpreter& in, std::span<const Value> a) {
  if (!a[0].IsString()) {
    throw Error("format: argument 1 must be a string, got " + a[0].Inspect());
  }
  std::string text = a[0].AsString();
  size_t n = a.size() - 1;
  std::vector<char> used(n, 0);  // not vector<bool>: each SxArg points at its flag
  fmt::dynamic_format_arg_store<fmt::format_context> store;
  store.reserve(n, 0);
  for (size_t i = 0; i < n; ++i) {
    store.push_back(SxArg{&a[i + 1], &used[i], i + 1});
  }
  std::string out;
  try {
    out = fmt::vformat(text, store);
  } catch (const ArgSpecError& e) {
    throw Error("format: argument " + std::to_string(e.index + 1) + " (" + a[e.index].Inspect() +
                ") does not fit the field {:" + e.spec + "}: " + e.why);
  } catch (const fmt::format_error& e) {
    std::string why = e.what();
    if (why == "argument not found") {
      throw Error("format: " + a[0].Inspect() + " has more fields than the " + std::to_string(n) +
                  " argument" + (n == 1 ? "" : "s") + " given");
    }
    throw Error("format: bad format string " + a[0].Inspect() + ": " + why);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!used[i]) {
      throw Error("format: argument " + std::to_string(i + 2) + " (" + a[i + 1].Inspect() +
                  ") is not used by any field of " + a[0].Inspect());
    }
  }
  return in.String(out);
}

// --- the pretty printer ---------------------------------------------------------

// Width in code points, as a terminal counts them (near enough).
size_t Columns(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The printer's text for a dict key: the entry of a one-key dict, less
// "{" and " nil}", so keys read as inspect writes them (:k, or "a b").
std::string KeyText(Interpreter& in, const std::string& key) {
  std::pair<std::string, Value> entry[] = {{key, Value()}};
  std::string text = in.Dict(entry).Inspect();
  constexpr size_t kFrame = 6;  // "{" ... " nil}"
  return text.size() > kFrame ? text.substr(1, text.size() - kFrame) : text;
}

// A newline and `indent` spaces.
std::string NewLine(size_t indent) {
  std::string s(indent + 1, ' ');
  s[0] = '\n';
  return s;
}

constexpr size_t kMaxBreakDepth = 64;

bool IsCollection(const Value& v) { return v.IsList() || v.IsDict(); }

struct Pretty {
  Interpreter& in;
  size_t width;
  std::string out;

  // A list of atoms fills each line (as a paragraph of numbers or names
  // reads best); a list holding lists or dicts takes one element per line.
  void WriteList(const std::vector<Value>& items, size_t col, size_t trail, size_t depth) {
    bool fill = std::none_of(items.begin(), items.end(), IsCollection);
    std::string indent = NewLine(col + 1);
    size_t at = col + 1;  // the column the next element would start at
    out += '(';
    for (size_t i = 0; i < items.size(); ++i) {
      size_t after = i + 1 == items.size() ? trail + 1 : 0;
      if (i > 0) {
        std::string flat = fill ? items[i].Inspect() : std::string();
        if (fill && at + 1 + Columns(flat) + after <= width) {
          out += ' ';
          out += flat;
          at += 1 + Columns(flat);
          continue;
        }
        out += indent;
        at = col + 1;
      }
      size_t start = out.size();
      Write(items[i], col + 1, after, depth + 1);
      at += Columns(std::string_view(out).substr(start));
    }
    out += ')';
  }

  // Writes v starting at column `col`, followed by `trail` closing brackets,
  // `depth` brackets deep. Past kMaxBreakDepth a value is written on one
  // line: deeper breaks help no reader, and the recursion stays shallow.
  void Write(const Value& v, size_t col, size_t trail, size_t depth) {
    std::string flat = v.Inspect();
    bool fits = col + Columns(flat) + trail <= width;
    if (fits || !(v.IsList() || v.IsDict()) || flat.size() <= 2 || depth >= kMaxBreakDepth) {
      out += flat;
      return;
    }
    std::string indent = NewLine(col + 1);
    if (v.IsList()) {
      WriteList(v.Items(), col, trail, depth);
      return;
    }
    std::vector<std::pair<std::string, Value>> entries = v.Entries();
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out += indent;
      std::string key = KeyText(in, entries[i].first);
      out += key;
      out += ' ';
      Write(entries[i].second, col + 1 + Columns(key) + 1, i + 1 == entries.size() ? trail + 1 : 0,
            depth + 1);
    }
    out += '}';
  }
};

size_t WidthArg(std::span<const Value> a, size_t i, const char* fn) {
  if (a.size() <= i) return kDefaultPrettyWidth;
  if (!a[i].IsInt() || a[i].AsInt() < 1) {
    throw Error(std::string(fn) + ": argument " + std::to_string(i + 1) +
                " must be a positive integer (the width), got " + a[i].Inspect());
  }
  return static_cast<size_t>(a[i].AsInt());
}

}  // namespace

std::string PrettyText(Interpreter& in, const Value& v, size_t width) {
  Pretty p{in, width, {}};
  p.Write(v, 0, 0, 0);
  return std::move(p.out);
}

void DefineFormatNatives(Interpreter& in) {
  in.DefineNative("format", 1, -1,
                  "(format fmt x ...) the text of fmt with each {} field replaced by the next "
                  "argument, written by the fmt library's rules: {:>8.2f} {:<5} {:08d} {:x} "
                  "{0} {1}. An error when fields and arguments do not match.",
                  Format);
  in.DefineNative("pprint-str", 1, 2,
                  "(pprint-str x [width]) the text of x as inspect writes it, broken over "
                  "lines so that each fits in width columns (80) where it can.",
                  [](Interpreter& in, std::span<const Value> a) {
                    return in.String(PrettyText(in, a[0], WidthArg(a, 1, "pprint-str")));
                  });
}

}  // namespace sx::host
