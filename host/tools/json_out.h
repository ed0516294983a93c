// json_out.h — JSON text written straight into one growing buffer: the
// writer behind the export format (host/tools/export.cc).
//
// It writes what RapidJSON's Writer writes for the same calls, byte for
// byte: the same escapes (", \ and the control bytes; \u00XX in upper-case
// hex; other bytes as they are) and the same integers. Exports stay
// identical, without the Writer's nesting stack and per-character buffer
// checks, which were a third of an export's time.
//
// Commas follow one flag: after a value or a closing bracket the next
// member or element takes a comma; after an opening bracket or a key it
// does not. The caller keeps the calls well formed; nothing is checked.
// Not thread-safe; one writer per output.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace sx::tools {

class JsonOut {
 public:
  void StartObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void StartArray() { Open('['); }
  void EndArray() { Close(']'); }
  void Key(std::string_view s) {
    Comma();
    Quoted(s);
    Put(':');
    comma_ = false;
  }
  void String(std::string_view s) {
    Comma();
    Quoted(s);
    comma_ = true;
  }
  void Null() { Word("null"); }
  void Bool(bool b) { Word(b ? "true" : "false"); }
  void Int64(int64_t n) { Number(n); }
  void Uint64(uint64_t n) { Number(n); }
  // Text that is already JSON and ends as a key does (after its ':'):
  // what follows is that key's value, with no comma before it.
  void RawThroughKey(std::string_view json) {
    Comma();
    std::memcpy(Reserve(json.size()), json.data(), json.size());
    size_ += json.size();
    comma_ = false;
  }
  // Ends a line: what follows starts a new text.
  void NewLine() {
    Put('\n');
    comma_ = false;
  }

  const char* data() const { return buf_.get(); }
  size_t size() const { return size_; }
  // Drops what was written after the first n bytes; what follows starts a
  // new text.
  void Truncate(size_t n) {
    size_ = n;
    comma_ = false;
  }
  void Clear() { Truncate(0); }

 private:
  // Room for n more bytes at data() + size(); the buffer at least doubles
  // when it grows, and is never cleared (only written bytes are read).
  char* Reserve(size_t n) {
    if (cap_ - size_ < n) {
      size_t cap = std::max(cap_ * 2, size_ + n);
      auto bigger = std::make_unique_for_overwrite<char[]>(cap);
      if (size_ > 0) std::memcpy(bigger.get(), buf_.get(), size_);
      buf_ = std::move(bigger);
      cap_ = cap;
    }
    return buf_.get() + size_;
  }
  void Put(char c) {
    *Reserve(1) = c;
    ++size_;
  }
  void Comma() {
    if (comma_) Put(',');
  }
  void Open(char c) {
    Comma();
    Put(c);
    comma_ = false;
  }
  void Close(char c) {
    Put(c);
    comma_ = true;
  }
  void Word(std::string_view w) {
    Comma();
    std::memcpy(Reserve(w.size()), w.data(), w.size());
    size_ += w.size();
    comma_ = true;
  }
  template <typename N>
  void Number(N n) {
    Comma();
    char* p = Reserve(20);
    size_ += static_cast<size_t>(std::to_chars(p, p + 20, n).ptr - p);
    comma_ = true;
  }
  void Quoted(std::string_view s);

  std::unique_ptr<char[]> buf_;
  size_t size_ = 0;
  size_t cap_ = 0;
  bool comma_ = false;
};

// The escape of each byte in a JSON string, as RapidJSON writes it: 0 for
// none, 'u' for \u00XX, else the letter after the backslash.
inline constexpr char kJsonEscape[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f',  'r', 'u', 'u',  // 00
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',  'u', 'u', 'u',  // 10
    0,   0,   '"', 0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,    // 20
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,    // 30
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,    // 40
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   '\\', 0,   0,   0,    // 50
};

inline void JsonOut::Quoted(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  char* p = Reserve(2 + 6 * s.size());  // every byte \u00XX at worst
  char* start = p;
  *p++ = '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    char e = kJsonEscape[c];
    if (e == 0) {
      *p++ = ch;
      continue;
    }
    *p++ = '\\';
    *p++ = e;
    if (e == 'u') {
      *p++ = '0';
      *p++ = '0';
      *p++ = kHex[c >> 4];
      *p++ = kHex[c & 15];
    }
  }
  *p++ = '"';
  size_ += static_cast<size_t>(p - start);
}

}  // namespace sx::tools
