// reader.cc — the push parser.
//
// Built like Janet's parse.c: bytes go in one at a time through a small lexer
// state machine (idle, token, string, |symbol|, comment, after-comma), and
// every open list, dict or quote prefix is a Frame on an explicit stack, so
// the nesting of the input never reaches the C++ stack and a form may be cut
// anywhere between two Feed() calls.
//
// The elements read so far for each open frame are real heap lists (kept in
// reverse and flipped in place when the frame closes). Their heads live in a
// Vec that is registered as a GC root, so a half-read form survives the
// collections the REPL runs between two lines.
//
// A bare token ends at a delimiter, which is not consumed until the token has
// been turned into a value: if that value completes a top-level form, Next()
// returns it and the delimiter is read on the following call.
//
// Number syntax: a token is a number when it matches
//   [+-]? (digits ('.' digits?)? | '.' digits) ([eE] [+-]? digits)?
// and is an integer when it has neither '.' nor exponent. A token that starts
// like a number (optional sign, then a digit or '.' and a digit) but does not
// match is an error ("invalid number 1+"), so `1+` is not a symbol; `-`, `+`,
// `->`, `-x`, `...` are symbols.
#include "interp/reader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "interp/dict.h"
#include "interp/native.h"
#include "interp/state.h"
#include "interp/utf8.h"

namespace sx::interp {

namespace {

bool IsSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsDelimiter(uint8_t c) {
  switch (c) {
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '"':
    case ';':
    case '\'':
    case '`':
    case ',':
    case '|':
      return true;
    default:
      return IsSpace(c);
  }
}

bool IsControl(uint8_t c) { return (c < 0x20 && !IsSpace(c)) || c == 0x7f; }
bool IsConstituent(uint8_t c) { return !IsDelimiter(c) && !IsControl(c); }
bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }

int HexDigit(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PosText(SrcPos p) { return std::to_string(p.line) + ":" + std::to_string(p.col); }

// How a byte appears in an error message.
std::string ByteText(uint8_t c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, static_cast<char>(c));
  static const char kHex[] = "0123456789abcdef";
  return std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
}

// Incremental UTF-8 validation (rejects overlongs, surrogates, > U+10FFFF).
struct Utf8Checker {
  int need = 0;
  uint8_t lo = 0x80, hi = 0xbf;

  bool Step(uint8_t c) {
    if (need == 0) {
      Utf8Lead lead = ClassifyUtf8Lead(c);
      if (lead.need < 0) return false;
      need = lead.need;
      lo = lead.lo;
      hi = lead.hi;
      return true;
    }
    if (c < lo || c > hi) return false;
    lo = 0x80;
    hi = 0xbf;
    --need;
    return true;
  }
};

bool ValidUtf8(std::string_view s) {
  Utf8Checker u;
  for (char c : s) {
    if (!u.Step(static_cast<uint8_t>(c))) return false;
  }
  return u.need == 0;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool LooksNumeric(std::string_view t) {
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  if (i < t.size() && IsDigit(t[i])) return true;
  return i + 1 < t.size() && t[i] == '.' && IsDigit(t[i + 1]);
}

enum class NumKind { kNotNumber, kInt, kFloat, kInvalid, kOutOfRange };

NumKind ParseNumber(std::string_view t, int64_t* int_out, double* float_out) {
  if (!LooksNumeric(t)) return NumKind::kNotNumber;
  size_t i = 0, n = t.size();
  if (t[i] == '+' || t[i] == '-') ++i;
  size_t digits = 0;
  while (i < n && IsDigit(t[i])) ++i, ++digits;
  bool is_float = false;
  if (i < n && t[i] == '.') {
    is_float = true;
    ++i;
    while (i < n && IsDigit(t[i])) ++i, ++digits;
  }
  if (digits == 0) return NumKind::kInvalid;
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    is_float = true;
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < n && IsDigit(t[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return NumKind::kInvalid;
  }
  if (i != n) return NumKind::kInvalid;
  // from_chars accepts no leading '+'.
  std::string_view body = t[0] == '+' ? t.substr(1) : t;
  const char* end = body.data() + body.size();
  if (!is_float) {
    auto r = std::from_chars(body.data(), end, *int_out);
    if (r.ec == std::errc::result_out_of_range) return NumKind::kOutOfRange;
    return r.ec == std::errc() && r.ptr == end ? NumKind::kInt : NumKind::kInvalid;
  }
  auto r = std::from_chars(body.data(), end, *float_out);
  if (r.ec == std::errc::result_out_of_range) {
    // Overflow is an error; underflow rounds to (signed) zero like strtod.
    std::string copy(body);
    errno = 0;
    double d = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(d)) return NumKind::kOutOfRange;
    *float_out = d;
    return NumKind::kFloat;
  }
  return r.ec == std::errc() && r.ptr == end ? NumKind::kFloat : NumKind::kInvalid;
}

const char* QuoteSpelling(const State& S, const Symbol* sym) {
  if (sym == S.sym.quote) return "'";
  if (sym == S.sym.quasiquote) return "`";
  if (sym == S.sym.unquote) return ",";
  return ",@";
}

char Closer(uint8_t open) { return open == '(' ? ')' : open == '[' ? ']' : '}'; }

}  // namespace

bool IsBareSymbolName(std::string_view name) {
  if (name.empty() || name == "nil" || name == "true" || name == "false") return false;
  if (name[0] == ':' || name[0] == '#' || LooksNumeric(name)) return false;
  for (char c : name) {
    if (!IsConstituent(static_cast<uint8_t>(c))) return false;
  }
  return ValidUtf8(name);
}

bool IsBareKeywordName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsConstituent(static_cast<uint8_t>(c))) return false;
  }
  return ValidUtf8(name);
}

struct Reader::Impl {
  enum class Lex { kIdle, kToken, kString, kPipe, kComment, kComma };
  enum class Esc { kNone, kBackslash, kHex, kUBrace, kUDigits };

  struct Frame {
    uint8_t open;   // '(' '[' '{', or 'q' for a quote prefix
    Symbol* quote;  // for 'q'
    SrcPos pos;
    size_t count;  // elements read so far
  };

  Impl(State& s, ReadError& e, std::unordered_map<const Obj*, SrcPos>& p)
      : S(s), heap(s.heap), error(e), positions(p) {
    acc = heap.NewVec(16);
    root_slot = S.Root(Value::Object(acc));
  }
  ~Impl() { S.Unroot(root_slot); }

  State& S;
  Heap& heap;
  ReadError& error;
  std::unordered_map<const Obj*, SrcPos>& positions;

  std::string buf;
  size_t pos = 0;
  bool finished = false, ended = false, failed = false;
  uint32_t line = 1, col = 1;
  Utf8Checker utf8;

  Lex lex = Lex::kIdle;
  std::string tok;  // token text, or string/|symbol| contents after escapes
  SrcPos tok_pos;
  bool pipe_keyword = false;
  SrcPos comma_pos;
  Esc esc = Esc::kNone;
  SrcPos esc_pos;
  uint32_t esc_val = 0;
  int esc_digits = 0;

  std::vector<Frame> frames;
  Vec* acc;  // acc->items[i]: frame i's elements, newest first
  size_t root_slot;

  bool has_ready = false;
  Value ready;
  const std::string* filename = nullptr;
  uint16_t file_id = 0;  // S.FileId(*filename), looked up at the first use
  void StampSymbolCell(Obj* cell) {
    if (file_id == 0) file_id = S.FileId(*filename);
    cell->aux =
        (std::min<uint32_t>(tok_pos.line, 0xFFFFF) << 12) | std::min<uint32_t>(tok_pos.col, 0xFFF);
    cell->flags = file_id;
  }
  SrcPos form_pos;  // where `ready` begins

  SrcPos Here() const { return SrcPos{line, col}; }

  void Fail(std::string message, SrcPos p) {
    if (failed) return;
    failed = true;
    error.message = std::move(message);
    error.pos = p;
  }

  Status Next(Value* out);
  void EndOfInput();
  void Dispatch(uint8_t c, SrcPos p);
  void Idle(uint8_t c, SrcPos p);
  void Quoted(uint8_t c, SrcPos p, uint8_t terminator);
  void Escape(uint8_t c);
  void CompleteToken();
  void CompleteQuoted();
  void PushFrame(uint8_t open, Symbol* quote, SrcPos p);
  void PopFrame();
  void Close(uint8_t c, SrcPos p);
  Value BuildDict(const Frame& f, Value items);
  void Produce(Value v);
};

Reader::Status Reader::Impl::Next(Value* out) {
  while (!failed) {
    if (pos == buf.size()) {
      buf.clear();
      pos = 0;
      if (!finished) return Status::kNeedMore;
      if (ended) return Status::kEnd;
      ended = true;
      EndOfInput();
      if (failed) break;
      if (!has_ready) return Status::kEnd;
    } else {
      auto c = static_cast<uint8_t>(buf[pos]);
      if (lex == Lex::kToken && !IsConstituent(c) && !(c == '|' && tok == ":")) {
        // The delimiter stays unread until the token is a value.
        if (utf8.need != 0) {
          Fail("invalid UTF-8", Here());
          break;
        }
        CompleteToken();
      } else {
        SrcPos p = Here();
        if (!utf8.Step(c)) {
          Fail("invalid UTF-8", p);
          break;
        }
        ++pos;
        if (c == '\n') {
          ++line;
          col = 1;
        } else {
          ++col;
        }
        Dispatch(c, p);
      }
    }
    if (failed) break;
    if (has_ready) {
      has_ready = false;
      *out = ready;
      ready = Value::Nil();
      return Status::kValue;
    }
  }
  return Status::kError;
}

void Reader::Impl::EndOfInput() {
  SrcPos here = Here();
  if (utf8.need != 0) return Fail("invalid UTF-8", here);
  switch (lex) {
    case Lex::kToken:
      CompleteToken();
      break;
    case Lex::kString:
      return Fail("unterminated string starting at " + PosText(tok_pos), here);
    case Lex::kPipe:
      return Fail("unterminated |symbol| starting at " + PosText(tok_pos), here);
    case Lex::kComma:
      lex = Lex::kIdle;
      PushFrame('q', S.sym.unquote, comma_pos);
      break;
    case Lex::kComment:
    case Lex::kIdle:
      lex = Lex::kIdle;
      break;
  }
  if (failed || frames.empty()) return;
  const Frame& f = frames.back();
  if (f.open == 'q') {
    return Fail(
        std::string("expected a form after ") + QuoteSpelling(S, f.quote) + " at " + PosText(f.pos),
        here);
  }
  Fail(std::string("expected '") + Closer(f.open) + "' to close '" + static_cast<char>(f.open) +
           "' at " + PosText(f.pos),
       here);
}

void Reader::Impl::Dispatch(uint8_t c, SrcPos p) {
  switch (lex) {
    case Lex::kIdle:
      return Idle(c, p);
    case Lex::kComment:
      if (c == '\n') lex = Lex::kIdle;
      return;
    case Lex::kToken:
      if (c == '|') {  // `:|odd name|`
        lex = Lex::kPipe;
        pipe_keyword = true;
        tok.clear();
        return;
      }
      tok.push_back(static_cast<char>(c));
      return;
    case Lex::kString:
      return Quoted(c, p, '"');
    case Lex::kPipe:
      return Quoted(c, p, '|');
    case Lex::kComma:
      lex = Lex::kIdle;
      if (c == '@') return PushFrame('q', S.sym.unquote_splicing, comma_pos);
      PushFrame('q', S.sym.unquote, comma_pos);
      if (!failed) Idle(c, p);
      return;
  }
}

void Reader::Impl::Idle(uint8_t c, SrcPos p) {
  if (IsSpace(c)) return;
  switch (c) {
    case ';':
      lex = Lex::kComment;
      return;
    case '(':
    case '[':
    case '{':
      return PushFrame(c, nullptr, p);
    case ')':
    case ']':
    case '}':
      return Close(c, p);
    case '"':
      lex = Lex::kString;
      tok.clear();
      tok_pos = p;
      return;
    case '|':
      lex = Lex::kPipe;
      pipe_keyword = false;
      tok.clear();
      tok_pos = p;
      return;
    case '\'':
      return PushFrame('q', S.sym.quote, p);
    case '`':
      return PushFrame('q', S.sym.quasiquote, p);
    case ',':
      lex = Lex::kComma;
      comma_pos = p;
      return;
    default:
      break;
  }
  if (IsControl(c)) return Fail("unexpected control character " + ByteText(c), p);
  lex = Lex::kToken;
  tok.assign(1, static_cast<char>(c));
  tok_pos = p;
}

void Reader::Impl::Quoted(uint8_t c, SrcPos p, uint8_t terminator) {
  if (esc != Esc::kNone) return Escape(c);
  if (c == '\\') {
    esc = Esc::kBackslash;
    esc_pos = p;
  } else if (c == terminator) {
    CompleteQuoted();
  } else {
    tok.push_back(static_cast<char>(c));
  }
}

void Reader::Impl::Escape(uint8_t c) {
  switch (esc) {
    case Esc::kNone:
      return;
    case Esc::kBackslash:
      esc = Esc::kNone;
      switch (c) {
        case 'n':
          tok.push_back('\n');
          return;
        case 'r':
          tok.push_back('\r');
          return;
        case 't':
          tok.push_back('\t');
          return;
        case '0':
          tok.push_back('\0');
          return;
        case '"':
        case '\\':
        case '|':
          tok.push_back(static_cast<char>(c));
          return;
        case 'x':
          esc = Esc::kHex;
          esc_val = 0;
          esc_digits = 0;
          return;
        case 'u':
          esc = Esc::kUBrace;
          return;
        default:
          return Fail("invalid escape \\" + ByteText(c), esc_pos);
      }
    case Esc::kHex: {
      int d = HexDigit(c);
      if (d < 0) return Fail("invalid escape: \\x needs two hex digits", esc_pos);
      esc_val = esc_val * 16 + d;
      if (++esc_digits == 2) {
        tok.push_back(static_cast<char>(esc_val));
        esc = Esc::kNone;
      }
      return;
    }
    case Esc::kUBrace:
      if (c != '{') return Fail("invalid escape: \\u needs {HEX}", esc_pos);
      esc = Esc::kUDigits;
      esc_val = 0;
      esc_digits = 0;
      return;
    case Esc::kUDigits: {
      if (c == '}') {
        if (esc_digits == 0) return Fail("invalid escape: \\u{} is empty", esc_pos);
        if (esc_val > 0x10ffff || (esc_val >= 0xd800 && esc_val <= 0xdfff)) {
          return Fail("invalid escape: \\u{...} is not a Unicode scalar value", esc_pos);
        }
        AppendUtf8(esc_val, &tok);
        esc = Esc::kNone;
        return;
      }
      int d = HexDigit(c);
      if (d < 0 || esc_digits == 6) {
        return Fail("invalid escape: \\u{...} needs 1 to 6 hex digits", esc_pos);
      }
      esc_val = esc_val * 16 + d;
      ++esc_digits;
      return;
    }
  }
}

void Reader::Impl::CompleteQuoted() {
  Value v;
  if (lex == Lex::kString) {
    v = heap.MakeString(tok);
  } else if (pipe_keyword) {
    v = Value::Object(heap.InternKeyword(tok));
  } else {
    v = Value::Object(heap.Intern(tok));
  }
  lex = Lex::kIdle;
  Produce(v);
}

void Reader::Impl::CompleteToken() {
  lex = Lex::kIdle;
  std::string_view t = tok;
  Value v;
  int64_t i = 0;
  double d = 0;
  if (t == "nil") {
    v = Value::Nil();
  } else if (t == "true") {
    v = Value::True();
  } else if (t == "false") {
    v = Value::False();
  } else if (t[0] == ':') {
    if (t.size() == 1) return Fail("expected a keyword name after ':'", tok_pos);
    v = Value::Object(heap.InternKeyword(t.substr(1)));
  } else if (t[0] == '#') {
    if (t == "##NaN") {
      v = Value::Float(std::numeric_limits<double>::quiet_NaN());
    } else if (t == "##Inf") {
      v = Value::Float(std::numeric_limits<double>::infinity());
    } else if (t == "##-Inf") {
      v = Value::Float(-std::numeric_limits<double>::infinity());
    } else if (t.size() > 1 && t[1] == '<') {
      return Fail(
          "cannot read '" + BriefText(tok) + "': values printed as #<...> have no text form",
          tok_pos);
    } else {
      return Fail("invalid syntax '" + BriefText(tok) + "'", tok_pos);
    }
  } else {
    switch (ParseNumber(t, &i, &d)) {
      case NumKind::kInt:
        v = heap.MakeInt(i);
        break;
      case NumKind::kFloat:
        v = Value::Float(d);
        break;
      case NumKind::kInvalid:
        return Fail("invalid number " + BriefText(tok), tok_pos);
      case NumKind::kOutOfRange:
        return Fail(t.find_first_of(".eE") != std::string_view::npos ? "number out of range"
                                                                     : "integer out of range",
                    tok_pos);
      case NumKind::kNotNumber:
        v = Value::Object(heap.Intern(t));
        break;
    }
  }
  Produce(v);
}

void Reader::Impl::PushFrame(uint8_t open, Symbol* quote, SrcPos p) {
  if (frames.size() >= S.limits.max_read_depth) {
    return Fail("nesting deeper than " + std::to_string(S.limits.max_read_depth), p);
  }
  frames.push_back(Frame{open, quote, p, 0});
  heap.VecPush(acc, Value::EmptyList());
}

void Reader::Impl::PopFrame() {
  frames.pop_back();
  acc->items[--acc->size] = Value::Nil();
}

void Reader::Impl::Close(uint8_t c, SrcPos p) {
  if (frames.empty()) return Fail(std::string("unbalanced '") + static_cast<char>(c) + "'", p);
  Frame f = frames.back();
  if (f.open == 'q') {
    return Fail(std::string("expected a form after ") + QuoteSpelling(S, f.quote) + " at " +
                    PosText(f.pos) + ", got '" + static_cast<char>(c) + "'",
                p);
  }
  if (Closer(f.open) != c) {
    return Fail(std::string("expected '") + Closer(f.open) + "' to close '" +
                    static_cast<char>(f.open) + "' at " + PosText(f.pos) + ", got '" +
                    static_cast<char>(c) + "'",
                p);
  }
  // Flip the newest-first list in place: its cells are not shared yet.
  Value items = Value::EmptyList();
  for (Value cur = acc->items[frames.size() - 1]; IsPair(cur);) {
    Value next = Cdr(cur);
    AsPair(cur)->cdr = items;
    items = cur;
    cur = next;
  }
  Value v = f.open == '{' ? BuildDict(f, items) : items;
  if (failed) return;
  if (IsPair(v)) positions[v.AsObj()] = f.pos;
  PopFrame();
  Produce(v);
}

Value Reader::Impl::BuildDict(const Frame& f, Value items) {
  if (f.count % 2 != 0) {
    Fail("dict literal at " + PosText(f.pos) + " needs an even number of forms", f.pos);
    return Value::Nil();
  }
  bool literal_keys = true;
  for (Value p = items; IsPair(p); p = Cdr(Cdr(p))) {
    Value k = Car(p);
    if (!IsString(k) && !IsKeyword(k)) literal_keys = false;
  }
  if (!literal_keys) return heap.Cons(Value::Object(S.sym.dict), items);
  Value dict = DictEmpty(heap);
  for (Value p = items; IsPair(p); p = Cdr(Cdr(p))) {
    Value k = Car(p);
    String* key = IsString(k) ? AsString(k) : AsKeyword(k)->name;
    if (!DictGet(dict, key).IsUndefined()) {
      Fail("duplicate key " + BriefName(key->View()) + " in dict literal at " + PosText(f.pos),
           f.pos);
      return Value::Nil();
    }
    dict = DictAssoc(heap, dict, key, Car(Cdr(p)));
  }
  return dict;
}

void Reader::Impl::Produce(Value v) {
  while (!frames.empty()) {
    const Frame& f = frames.back();
    if (f.open != 'q') {
      size_t top = frames.size() - 1;
      acc->items[top] = heap.Cons(v, acc->items[top]);
      // A symbol's own place goes on the cell that holds it, stamped at
      // once (the first cell of a list is later given the list's place),
      // so an unbound name is reported where it is written.
      if (f.open != '{' && IsSymbol(v)) StampSymbolCell(acc->items[top].AsObj());
      ++frames.back().count;
      return;
    }
    SrcPos p = f.pos;
    v = heap.Cons(Value::Object(f.quote), heap.Cons(v, Value::EmptyList()));
    positions[v.AsObj()] = p;
    PopFrame();
  }
  if (IsPair(v)) {
    auto it = positions.find(v.AsObj());
    form_pos = it != positions.end() ? it->second : tok_pos;
  } else {
    form_pos = tok_pos;
  }
  ready = v;
  has_ready = true;
}

Reader::Reader(State& S, std::string filename)
    : impl_(nullptr), S_(S), filename_(std::move(filename)) {
  impl_ = new Impl(S_, error_, positions_);
  impl_->filename = &filename_;
}

Reader::~Reader() { delete impl_; }

void Reader::Feed(std::string_view bytes) {
  Impl& r = *impl_;
  if (r.finished) return;
  if (r.pos > 0 && r.pos >= r.buf.size() / 2) {
    r.buf.erase(0, r.pos);
    r.pos = 0;
  }
  r.buf.append(bytes);
}

void Reader::Finish() { impl_->finished = true; }

Reader::Status Reader::Next(Value* out) { return impl_->Next(out); }

SrcPos Reader::form_pos() const { return impl_->form_pos; }

bool Reader::AtTopLevel() const {
  return impl_->frames.empty() &&
         (impl_->lex == Impl::Lex::kIdle || impl_->lex == Impl::Lex::kComment);
}

Value ReadString(State& S, std::string_view text) {
  std::string message;
  {
    Reader reader(S, "<string>");
    reader.Feed(text);
    reader.Finish();
    Value v, extra;
    switch (reader.Next(&v)) {
      case Reader::Status::kValue:
        switch (reader.Next(&extra)) {
          case Reader::Status::kEnd:
            return v;
          case Reader::Status::kError:
            break;
          default:
            message = "read error: unexpected text after the value";
            break;
        }
        break;
      case Reader::Status::kEnd:
        message = "read error: no value in the text";
        break;
      default:
        break;
    }
    if (message.empty()) {
      message = "read error at " + PosText(reader.error().pos) + ": " + reader.error().message;
    }
  }
  ThrowError(S, std::move(message));
}

}  // namespace sx::interp
