// printer.cc — Inspect, Display, Serialize.
//
// One Printer walks a value with an explicit stack of open containers, so a
// list nested a million deep prints like a flat one. Each frame is a list
// cursor or a position in a dict's sorted entries; dict entries are kept on a
// side stack so list frames stay small.
//
// Everything printed here must read back (reader.cc) to an equal value: the
// rules for bare symbols and keywords are the reader's own (IsBareSymbolName),
// floats always carry a '.' or an exponent, and bytes that are not valid UTF-8
// are written as \xHH escapes.
#include "interp/printer.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

#include "interp/dict.h"
#include "interp/heap.h"
#include "interp/native.h"
#include "interp/reader.h"
#include "interp/state.h"
#include "interp/utf8.h"

namespace sx::interp {

const char* (*g_closure_name)(Value) = nullptr;

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Writes `s` between `quote` characters with the reader's escapes.
void QuoteTo(std::string_view s, char quote, std::string* out) {
  out->push_back(quote);
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n > 0) {
        out->append(s.substr(i, n));
        i += n;
      } else {
        *out += "\\x";
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
        ++i;
      }
      continue;
    }
    ++i;
    if (c == static_cast<uint8_t>(quote) || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\r') {
      *out += "\\r";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c == '\0') {
      *out += "\\0";
    } else if (c < 0x20 || c == 0x7f) {
      *out += "\\u{";
      if (c >= 16) out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
      out->push_back('}');
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back(quote);
}

void IntTo(int64_t n, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out->append(buf, r.ptr);
}

// What Serialize calls a value it refuses.
const char* RefusedKind(Value v) {
  if (v.IsUndefined()) return "an undefined value";
  switch (v.AsObj()->type) {
    case ObjType::kClosure:
    case ObjType::kNative:
      return "a function";
    case ObjType::kMacro:
      return "a macro";
    case ObjType::kError:
      return "an error";
    case ObjType::kHandle:
      return "a handle";
    case ObjType::kTask:
      return "a task";
    default:
      return "an internal object";
  }
}

class Printer {
 public:
  // max_depth: when serializing, the most lists and dicts open at once; a
  // value nested deeper is refused, as the reader would refuse its text.
  Printer(std::string* out, bool serialize, size_t max_depth = SIZE_MAX)
      : out_(out), serialize_(serialize), max_depth_(max_depth) {}

  // False when Serialize met a value without a text form (see error()).
  bool Print(Value v) {
    if (!Open(v)) return false;
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.dict < 0) {
        if (!IsPair(f.cursor)) {
          out_->push_back(')');
          stack_.pop_back();
          continue;
        }
        if (f.next++ > 0) out_->push_back(' ');
        Value x = Car(f.cursor);
        f.cursor = Cdr(f.cursor);
        if (!Open(x)) return false;
      } else {
        auto& entries = dicts_[f.dict];
        if (f.next == entries.size()) {
          out_->push_back('}');
          dicts_.pop_back();
          stack_.pop_back();
          continue;
        }
        if (f.next > 0) out_->push_back(' ');
        auto [key, val] = entries[f.next++];
        KeyTo(key->View(), out_);
        out_->push_back(' ');
        if (!Open(val)) return false;
      }
    }
    return true;
  }

  const std::string& error() const { return error_; }

  static void KeyTo(std::string_view key, std::string* out) {
    if (IsBareKeywordName(key)) {
      out->push_back(':');
      out->append(key);
    } else {
      QuoteTo(key, '"', out);
    }
  }

 private:
  struct Frame {
    Value cursor;     // list frames: the next pair to print
    ptrdiff_t dict;   // dict frames: index into dicts_; -1 for lists
    size_t next = 0;  // elements printed so far
  };

  // Prints an atom, or opens a container by pushing its frame.
  bool Open(Value v) {
    if (v.IsFloat()) {
      FormatDouble(v.AsFloat(), out_);
    } else if (v.IsSmallInt()) {
      IntTo(v.AsSmallInt(), out_);
    } else if (v.IsNil()) {
      *out_ += "nil";
    } else if (v.IsTrue()) {
      *out_ += "true";
    } else if (v.IsFalse()) {
      *out_ += "false";
    } else if (v.IsEmptyList()) {
      *out_ += "()";
    } else if (v.IsUndefined()) {
      return Refuse(v, "#<undefined>");
    } else {
      return OpenObj(v);
    }
    return true;
  }

  bool OpenObj(Value v) {
    Obj* o = v.AsObj();
    switch (o->type) {
      case ObjType::kBigInt:
        IntTo(static_cast<BigInt*>(o)->value, out_);
        return true;
      case ObjType::kString:
        QuoteTo(StringView(v), '"', out_);
        return true;
      case ObjType::kSymbol: {
        std::string_view name = AsSymbol(v)->name->View();
        if (IsBareSymbolName(name)) {
          out_->append(name);
        } else {
          QuoteTo(name, '|', out_);
        }
        return true;
      }
      case ObjType::kKeyword: {
        std::string_view name = AsKeyword(v)->name->View();
        out_->push_back(':');
        if (IsBareKeywordName(name)) {
          out_->append(name);
        } else {
          QuoteTo(name, '|', out_);
        }
        return true;
      }
      case ObjType::kPair:
        if (stack_.size() >= max_depth_) return TooDeep();
        out_->push_back('(');
        stack_.push_back(Frame{v, -1, 0});
        return true;
      case ObjType::kDict:
        if (stack_.size() >= max_depth_) return TooDeep();
        out_->push_back('{');
        dicts_.push_back(DictEntriesSorted(v));
        stack_.push_back(Frame{Value::Nil(), static_cast<ptrdiff_t>(dicts_.size() - 1), 0});
        return true;
      case ObjType::kClosure: {
        const char* name = g_closure_name != nullptr ? g_closure_name(v) : nullptr;
        std::string text = "#<fn";
        if (name != nullptr && *name != '\0') text += std::string(" ") + name;
        return Refuse(v, text + ">");
      }
      case ObjType::kNative:
        return Refuse(v, std::string("#<native ") + static_cast<Native*>(o)->spec->name + ">");
      case ObjType::kError: {
        Value msg = static_cast<ErrorObj*>(o)->message;
        std::string text = "#<error";
        if (IsString(msg)) {
          text.push_back(' ');
          QuoteTo(StringView(msg), '"', &text);
        }
        return Refuse(v, text + ">");
      }
      default:
        if (o->type == ObjType::kTask && o->aux != 0) {
          return Refuse(v, "#<task " + std::to_string(o->aux) + ">");
        }
        return Refuse(v, std::string("#<") + TypeName(v) + ">");
    }
  }

  // Writes the eye-readable form, or fails when serializing.
  bool Refuse(Value v, const std::string& text) {
    if (!serialize_) {
      *out_ += text;
      return true;
    }
    error_ = std::string("cannot serialize ") + RefusedKind(v);
    std::string path;
    for (const Frame& f : stack_) {
      if (!path.empty()) path += ", ";
      if (f.dict < 0) {
        path += "index ";
        IntTo(static_cast<int64_t>(f.next) - 1, &path);
      } else {
        path += "key ";
        std::string_view key = dicts_[f.dict][f.next - 1].first->View();
        if (key.size() > kBriefBytes) {
          path += BriefName(key);
        } else {
          KeyTo(key, &path);
        }
      }
    }
    if (!path.empty()) error_ += " (at " + path + ")";
    return false;
  }

  bool TooDeep() {
    error_ = "nested deeper than " + std::to_string(max_depth_);
    return false;
  }

  std::string* out_;
  bool serialize_;
  size_t max_depth_;
  std::vector<Frame> stack_;
  std::vector<std::vector<std::pair<String*, Value>>> dicts_;
  std::string error_;
};

// The longest prefix of s of at most n bytes that ends between characters.
std::string_view CutAtCharacter(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  size_t end = n;
  while (end > 0 && (static_cast<uint8_t>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

// "... (N bytes)" when `full` was cut.
void CutNote(std::string_view full, std::string* out) {
  *out += "... (" + std::to_string(full.size()) + " bytes)";
}

}  // namespace

std::string BriefText(std::string_view text) {
  std::string out(CutAtCharacter(text, kBriefBytes));
  if (text.size() > kBriefBytes) CutNote(text, &out);
  return out;
}

std::string BriefName(std::string_view name) {
  std::string out;
  QuoteTo(CutAtCharacter(name, kBriefBytes), '"', &out);
  if (name.size() > kBriefBytes) CutNote(name, &out);
  return out;
}

std::string Brief(State& S, Value v) {
  if (IsString(v)) return BriefName(StringView(v));
  bool symbol = IsSymbol(v);
  if (symbol || IsKeyword(v)) {
    std::string_view name = symbol ? AsSymbol(v)->name->View() : AsKeyword(v)->name->View();
    if (name.size() <= kBriefBytes) return Inspect(S, v);
    std::string_view cut = CutAtCharacter(name, kBriefBytes);
    std::string out = symbol ? "" : ":";
    if (symbol ? IsBareSymbolName(cut) : IsBareKeywordName(cut)) {
      out.append(cut);
    } else {
      QuoteTo(cut, '|', &out);
    }
    CutNote(name, &out);
    return out;
  }
  std::string text = Inspect(S, v);
  if (text.size() > kBriefBytes) {
    text.resize(CutAtCharacter(text, kBriefBytes).size());
    text += "...";
  }
  return text;
}

void FormatDouble(double d, std::string* out) {
  if (std::isnan(d)) {
    *out += "##NaN";
    return;
  }
  if (std::isinf(d)) {
    *out += d > 0 ? "##Inf" : "##-Inf";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view text(buf, r.ptr - buf);
  out->append(text);
  if (text.find_first_of(".e") == std::string_view::npos) *out += ".0";
}

void InspectTo(State&, Value v, std::string* out) { Printer(out, false).Print(v); }

std::string Inspect(State& S, Value v) {
  std::string out;
  InspectTo(S, v, &out);
  return out;
}

void DisplayTo(State& S, Value v, std::string* out) {
  if (IsString(v)) {
    out->append(StringView(v));
  } else {
    InspectTo(S, v, out);
  }
}

std::string Display(State& S, Value v) {
  std::string out;
  DisplayTo(S, v, &out);
  return out;
}

bool Serialize(State& S, Value v, std::string* out, std::string* error) {
  size_t mark = out->size();
  Printer printer(out, true, S.limits.max_read_depth);
  if (printer.Print(v)) return true;
  out->resize(mark);
  if (error != nullptr) *error = printer.error();
  return false;
}

}  // namespace sx::interp
