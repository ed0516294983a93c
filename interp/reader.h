// reader.h — SX source text to values: a push parser with an explicit stack.
//
// Feed it bytes in any chunks (a REPL line, a file, a fuzzer byte by byte);
// each complete top-level form becomes available from Next(). Nesting is kept
// on an explicit stack bounded by Limits::max_read_depth, so no input can
// overflow the C++ stack. Every list read records the line and column of its
// opening parenthesis, and a symbol inside a list records its own place in
// the cell that holds it; the compiler uses both for error positions.
//
// Syntax (docs/language.md): nil true false, integers (64-bit; out of range is
// an error), floats (`3.5`, `1e-3`, `-0.0`, `##NaN`, `##Inf`, `##-Inf`),
// strings with escapes \" \\ \n \r \t \0 \u{HEX} \xHH, symbols (also `|any
// text|`), keywords `:name`, lists `( )`, dicts `{k v ...}`, quote ' ` , ,@
// and `;` comments. Source must be valid UTF-8 (outside escapes).
//
// A dict literal whose keys are all strings or keywords reads as a Dict whose
// values are the unevaluated forms (the compiler evaluates them); with any
// other key form it reads as the list `(dict k v ...)`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "interp/value.h"

namespace sx::interp {

class State;

struct SrcPos {
  uint32_t line = 0;  // 1-based; 0 = unknown
  uint32_t col = 0;   // 1-based, in bytes
};

struct ReadError {
  std::string message;  // e.g. "unbalanced ')'", "expected ')' to close '(' at 3:5"
  SrcPos pos;
};

class Reader {
 public:
  Reader(State& S, std::string filename);
  ~Reader();

  void Feed(std::string_view bytes);
  // End of input: an unfinished form becomes an error on the next Next().
  void Finish();

  enum class Status { kValue, kNeedMore, kEnd, kError };
  // kValue: *out holds the next top-level form. kNeedMore: feed more bytes.
  // kEnd: Finish() was called and everything has been returned. kError:
  // error() says what and where; the reader is then unusable (make a new one).
  Status Next(Value* out);

  const ReadError& error() const { return error_; }
  // Where the form the last kValue returned begins.
  SrcPos form_pos() const;
  // True when no partial form is pending (the REPL shows its main prompt).
  bool AtTopLevel() const;
  const std::string& filename() const { return filename_; }
  // Position of each list the reader built.
  const std::unordered_map<const Obj*, SrcPos>& positions() const { return positions_; }
  // Forgets recorded positions (after the caller has copied them): a
  // long-lived reader would otherwise keep every address it ever built.
  void ClearPositions() { positions_.clear(); }

 private:
  struct Impl;
  Impl* impl_;
  State& S_;
  std::string filename_;
  ReadError error_;
  std::unordered_map<const Obj*, SrcPos> positions_;
};

// Reads exactly one value from text (trailing whitespace and comments allowed,
// anything else is an error). Raises an SX error (ThrowError) on bad input.
// Used by `read-string` and `deserialize`.
Value ReadString(State& S, std::string_view text);

// For the printer: whether `name` written bare reads back as the symbol (or,
// after a ':', the keyword) of that name. Otherwise it needs `|...|`.
bool IsBareSymbolName(std::string_view name);
bool IsBareKeywordName(std::string_view name);

}  // namespace sx::interp
