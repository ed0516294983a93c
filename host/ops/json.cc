// json.cc — JSON through RapidJSON's SAX reader and its writer.
//
// Reading: RapidJSON parses in its iterative mode (its own stack on the
// heap, so no input can overflow the C stack) and calls a handler that
// builds SX values directly, with no document tree in between; the handler
// refuses nesting past the depth limit. A failure's byte offset becomes a
// line and column. Strings are checked to be UTF-8.
//
// Writing walks the value with an explicit depth count (SX values are
// acyclic but may nest deeply) and feeds RapidJSON's Writer, which escapes
// strings and writes doubles so they read back the same. What JSON cannot say is refused naming the
// value and where it is
// ($.data.items[2]), unless an option says how to write it.
#include "host/ops/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "host/ops/utf8_check.h"

namespace sx::host {

namespace {

// --- reading ------------------------------------------------------------------------

// One array or object being filled.
struct Open {
  bool object;
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> entries;
  std::string key;  // an object's key waiting for its value
};

class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
 public:
  Builder(Interpreter& in, size_t max_depth) : in_(in), max_depth_(max_depth) {}

  bool Null() { return Add(in_.Nil()); }
  bool Bool(bool b) { return Add(in_.Bool(b)); }
  bool Int(int i) { return Add(in_.Int(i)); }
  bool Uint(unsigned u) { return Add(in_.Int(u)); }
  bool Int64(int64_t i) { return Add(in_.Int(i)); }
  bool Uint64(uint64_t u) {
    // Past int64: not an integer SX can hold, so the nearest float.
    if (u > static_cast<uint64_t>(INT64_MAX)) return Add(in_.Float(static_cast<double>(u)));
    return Add(in_.Int(static_cast<int64_t>(u)));
  }
  bool Double(double d) { return Add(in_.Float(d)); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return Add(in_.String(std::string_view(s, n)));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Top().key.assign(s, n);
    return true;
  }
  bool StartObject() { return Push(true); }
  bool StartArray() { return Push(false); }
  bool EndObject(rapidjson::SizeType) { return Add(in_.Dict(Top().entries), /*pop=*/true); }
  bool EndArray(rapidjson::SizeType) { return Add(in_.List(Top().items), /*pop=*/true); }

  bool too_deep() const { return too_deep_; }
  Value Take() { return std::move(result_); }

 private:
  Open& Top() { return stack_[depth_ - 1]; }

  // Frames are kept when popped, so their vectors' storage serves the next
  // object or array at that depth without a new allocation.
  bool Push(bool object) {
    if (depth_ >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    if (depth_ == stack_.size()) stack_.emplace_back();
    Open& o = stack_[depth_++];
    o.object = object;
    o.items.clear();
    o.entries.clear();
    return true;
  }
  bool Add(Value v, bool pop = false) {
    if (pop) --depth_;
    if (depth_ == 0) {
      result_ = std::move(v);
    } else if (Open& o = Top(); o.object) {
      o.entries.emplace_back(std::move(o.key), std::move(v));
    } else {
      o.items.push_back(std::move(v));
    }
    return true;
  }

  Interpreter& in_;
  size_t max_depth_;
  std::vector<Open> stack_;
  size_t depth_ = 0;  // frames of stack_ in use
  Value result_;
  bool too_deep_ = false;
};

// RapidJSON counts the bytes of a string in 32 bits.
constexpr size_t kMaxText = UINT32_MAX;

constexpr unsigned kReadFlags = rapidjson::kParseIterativeFlag |
                                rapidjson::kParseValidateEncodingFlag |
                                rapidjson::kParseFullPrecisionFlag;

// Parses one JSON text. On failure throws an Error that names `fn`, the
// line and column in `whole` (which `text` is a part of, starting at byte
// `base`) and the cause.
Value ParseOne(Interpreter& in, const char* fn, std::string_view whole, size_t base,
               std::string_view text, size_t max_depth) {
  if (text.size() > kMaxText) {
    throw Error(std::string(fn) + ": " + std::to_string(text.size()) +
                " bytes of JSON in one text is more than the 4 GiB a text may have");
  }
  Builder b(in, max_depth);
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::Reader reader;
  rapidjson::ParseResult r = reader.Parse<kReadFlags>(ms, b);
  if (r) return b.Take();
  size_t line = 0, col = 0;
  LineAndColumn(whole, base + r.Offset(), &line, &col);
  std::string why = b.too_deep() ? "nesting deeper than " + std::to_string(max_depth) + " levels"
                                 : rapidjson::GetParseError_En(r.Code());
  if (!why.empty() && why.back() == '.') why.pop_back();
  throw Error(std::string(fn) + ": line " + std::to_string(line) + ", column " +
              std::to_string(col) + ": " + why);
}

std::string TextArg(std::span<const Value> a, const char* fn) {
  if (!a[0].IsString()) {
    throw Error(std::string(fn) + ": argument 1 must be a string, got " + a[0].Inspect());
  }
  return a[0].AsString();
}

// The options dict of a JSON native (argument 2), or nil.
Value OptionsArg(std::span<const Value> a, const char* fn) {
  if (a.size() < 2 || a[1].IsNil()) return Value();
  if (!a[1].IsDict()) {
    throw Error(std::string(fn) + ": argument 2 must be a dict of options, got " + a[1].Inspect());
  }
  return a[1];
}

size_t MaxDepth(const Value& opts, const char* fn) {
  if (opts.IsNil()) return kJsonMaxDepth;
  Value d = opts.Get("max-depth");
  if (d.IsNil()) return kJsonMaxDepth;
  if (!d.IsInt() || d.AsInt() < 1) {
    throw Error(std::string(fn) + ": :max-depth must be a positive integer, got " + d.Inspect());
  }
  return static_cast<size_t>(d.AsInt());
}

Value JsonRead(Interpreter& in, std::span<const Value> a) {
  std::string text = TextArg(a, "json-read");
  size_t depth = MaxDepth(OptionsArg(a, "json-read"), "json-read");
  return ParseOne(in, "json-read", text, 0, text, depth);
}

bool Blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

Value JsonReadLines(Interpreter& in, std::span<const Value> a) {
  std::string text = TextArg(a, "json-read-lines");
  size_t depth = MaxDepth(OptionsArg(a, "json-read-lines"), "json-read-lines");
  std::vector<Value> values;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (!Blank(line)) values.push_back(ParseOne(in, "json-read-lines", text, start, line, depth));
    start = end + 1;
  }
  return in.List(values);
}

// --- writing ------------------------------------------------------------------------

struct WriteOptions {
  bool keywords_as_strings = false;  // {:keywords "string"}: keywords, symbols as names
  bool non_finite_as_null = false;   // {:non-finite "null"}: NaN, infinities as null
  enum { kRefuse, kAsString, kAsNumber } big_ints = kRefuse;  // {:big-ints "string"|"number"}
  int indent = 0;                                             // {:indent N}: pretty, N spaces
  size_t max_depth = kJsonMaxDepth;
};

constexpr int64_t kMaxExactInt = int64_t{1} << 53;  // beyond, a double (JavaScript) rounds

std::string OptionText(const Value& v) {
  return v.IsString() || v.IsKeyword() ? v.AsString() : v.Inspect();
}

WriteOptions ParseWriteOptions(const Value& opts) {
  WriteOptions w;
  if (opts.IsNil()) return w;
  auto bad = [](const char* key, const Value& v, const char* want) {
    throw Error(std::string("json-write: :") + key + " must be " + want + ", got " + v.Brief());
  };
  if (Value k = opts.Get("keywords"); !k.IsNil()) {
    if (OptionText(k) != "string") bad("keywords", k, "\"string\"");
    w.keywords_as_strings = true;
  }
  if (Value n = opts.Get("non-finite"); !n.IsNil()) {
    if (OptionText(n) != "null") bad("non-finite", n, "\"null\"");
    w.non_finite_as_null = true;
  }
  if (Value b = opts.Get("big-ints"); !b.IsNil()) {
    std::string t = OptionText(b);
    if (t == "string") {
      w.big_ints = WriteOptions::kAsString;
    } else if (t == "number") {
      w.big_ints = WriteOptions::kAsNumber;
    } else {
      bad("big-ints", b, "\"string\" or \"number\"");
    }
  }
  if (Value i = opts.Get("indent"); !i.IsNil()) {
    if (!i.IsInt() || i.AsInt() < 0 || i.AsInt() > 16) bad("indent", i, "an integer from 0 to 16");
    w.indent = static_cast<int>(i.AsInt());
  }
  if (Value d = opts.Get("max-depth"); !d.IsNil()) {
    // Writing recurses once per level, so its depth has a ceiling.
    if (!d.IsInt() || d.AsInt() < 1 || d.AsInt() > static_cast<int64_t>(kJsonMaxWriteDepth)) {
      bad("max-depth", d, ("an integer from 1 to " + std::to_string(kJsonMaxWriteDepth)).c_str());
    }
    w.max_depth = static_cast<size_t>(d.AsInt());
  }
  return w;
}

template <typename Writer>
class Emitter {
 public:
  Emitter(Writer& w, const WriteOptions& opts) : w_(w), opts_(opts) {}

  void Write(const Value& v) {
    if (v.IsNil()) {
      w_.Null();
    } else if (v.IsBool()) {
      w_.Bool(v.AsBool());
    } else if (v.IsInt()) {
      WriteInt(v);
    } else if (v.IsFloat()) {
      WriteFloat(v);
    } else if (v.IsString()) {
      WriteString(v.AsString(), v);
    } else if (v.IsKeyword() || v.IsSymbol()) {
      if (!opts_.keywords_as_strings) {
        Refuse(v, "the " + v.TypeName() + " " + v.Inspect(),
               "pass {:keywords \"string\"} to write it as its name");
      }
      WriteString(v.AsString(), v);
    } else if (v.IsList()) {
      Enter(v);
      w_.StartArray();
      std::vector<Value> items = v.Items();
      for (size_t i = 0; i < items.size(); ++i) {
        path_.push_back(Step{nullptr, i});
        Write(items[i]);
        path_.pop_back();
      }
      w_.EndArray();
      --depth_;
    } else if (v.IsDict()) {
      Enter(v);
      w_.StartObject();
      for (const auto& [key, value] : v.Entries()) {
        size_t bad = 0;
        if (!ValidUtf8(key, &bad)) Refuse(v, "the key " + Quote(key), "it is not valid UTF-8");
        w_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
        path_.push_back(Step{&key, 0});
        Write(value);
        path_.pop_back();
      }
      w_.EndObject();
      --depth_;
    } else {
      Refuse(v, "a " + v.TypeName() + " (" + v.Inspect() + ")", "");
    }
  }

 private:
  static std::string Quote(const std::string& s) { return "\"" + s + "\""; }

  // Where the value being written is, as $.data.items[2] (made only for an
  // error; a deep path keeps its first and last steps).
  std::string Where() const {
    constexpr size_t kEnds = 4;
    std::string p = "$";
    for (size_t i = 0; i < path_.size(); ++i) {
      if (path_.size() > 2 * kEnds && i == kEnds) {
        p += "...";
        i = path_.size() - kEnds;
      }
      const Step& s = path_[i];
      if (s.key != nullptr) {
        p += '.';
        p += *s.key;
      } else {
        p += '[';
        p += std::to_string(s.index);
        p += ']';
      }
    }
    return p;
  }

  [[noreturn]] void Refuse(const Value&, const std::string& what, const std::string& hint) {
    std::string msg = "json-write: cannot write " + what + " as JSON (at " + Where() + ")";
    if (!hint.empty()) msg += "; " + hint;
    throw Error(msg);
  }

  void Enter(const Value& v) {
    if (++depth_ > opts_.max_depth) {
      Refuse(v, "a value nested deeper than " + std::to_string(opts_.max_depth) + " levels", "");
    }
  }

  void WriteInt(const Value& v) {
    int64_t n = v.AsInt();
    if (n >= -kMaxExactInt && n <= kMaxExactInt) {
      w_.Int64(n);
      return;
    }
    switch (opts_.big_ints) {
      case WriteOptions::kRefuse:
        Refuse(v, "the integer " + std::to_string(n),
               "it is beyond 2^53, where many JSON readers lose digits; pass {:big-ints "
               "\"string\"} or {:big-ints \"number\"}");
      case WriteOptions::kAsString: {
        std::string s = std::to_string(n);
        w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
        return;
      }
      case WriteOptions::kAsNumber:
        w_.Int64(n);
        return;
    }
  }

  void WriteFloat(const Value& v) {
    double d = v.AsDouble();
    if (std::isfinite(d)) {
      w_.Double(d);
    } else if (opts_.non_finite_as_null) {
      w_.Null();
    } else {
      Refuse(v, v.Inspect(), "pass {:non-finite \"null\"} to write it as null");
    }
  }

  void WriteString(const std::string& s, const Value& v) {
    if (s.size() > kMaxText) Refuse(v, "a string of " + std::to_string(s.size()) + " bytes", "");
    size_t bad = 0;
    if (!ValidUtf8(s, &bad)) Refuse(v, "the string " + v.Inspect(), "it is not valid UTF-8");
    w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }

  // One step of the path from the top: a dict's key, or a list's index.
  struct Step {
    const std::string* key;
    size_t index;
  };

  Writer& w_;
  const WriteOptions& opts_;
  std::vector<Step> path_;
  size_t depth_ = 0;
};

// Default flags: RapidJSON 1.1's PrettyWriter drops any others from its
// base, so strings are checked for UTF-8 here (ValidUtf8) rather than by
// kWriteValidateEncodingFlag.
using CompactWriter = rapidjson::Writer<rapidjson::StringBuffer>;
using IndentWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

template <typename Writer>
std::string WriteWith(const Value& v, const WriteOptions& opts) {
  rapidjson::StringBuffer buf;
  // The level depth is only where RapidJSON's stack starts (it grows);
  // passing it avoids a default argument that GCC refuses in PrettyWriter.
  constexpr size_t kInitialLevels = 32;
  Writer w(buf, nullptr, kInitialLevels);
  if constexpr (std::is_same_v<Writer, IndentWriter>) {
    w.SetIndent(' ', static_cast<unsigned>(opts.indent));
  }
  Emitter<Writer> e(w, opts);
  e.Write(v);
  return std::string(buf.GetString(), buf.GetSize());
}

Value JsonWrite(Interpreter& in, std::span<const Value> a) {
  WriteOptions opts = ParseWriteOptions(OptionsArg(a, "json-write"));
  return in.String(opts.indent > 0 ? WriteWith<IndentWriter>(a[0], opts)
                                   : WriteWith<CompactWriter>(a[0], opts));
}

// Allocation failure on huge input is reported, not left to crash.
NativeFunction OutOfMemoryIsAnError(const char* name,
                                    Value (*fn)(Interpreter&, std::span<const Value>)) {
  return [name, fn](Interpreter& in, std::span<const Value> a) {
    try {
      return fn(in, a);
    } catch (const std::bad_alloc&) {
      throw Error(std::string(name) + ": out of memory");
    }
  };
}

}  // namespace

void DefineJsonNatives(Interpreter& in) {
  in.DefineNative("json-read", 1, 2,
                  "(json-read text [opts]) the value of one JSON text: objects become dicts, "
                  "arrays lists, integers integers, other numbers floats, null nil. "
                  "opts: {:max-depth N} (512). Malformed text is an error naming the line "
                  "and column.",
                  OutOfMemoryIsAnError("json-read", JsonRead));
  in.DefineNative("json-read-lines", 1, 2,
                  "(json-read-lines text [opts]) the values of JSON Lines text, one JSON "
                  "text per line, as a list; blank lines are skipped. Options as json-read.",
                  OutOfMemoryIsAnError("json-read-lines", JsonReadLines));
  in.DefineNative("json-write", 1, 2,
                  "(json-write x [opts]) x as compact JSON text, dict keys sorted. Keywords, "
                  "symbols, NaN, infinities and integers beyond 2^53 are errors unless opts "
                  "say how: {:keywords \"string\" :non-finite \"null\" :big-ints "
                  "\"string\"|\"number\" :indent N}.",
                  OutOfMemoryIsAnError("json-write", JsonWrite));
}

}  // namespace sx::host
