// printer.h — the text forms of values.
//
// Inspect gives the readable text: `(read-string (inspect v))` is `equal?` to v
// for every data value (nil, booleans, integers, floats bit-exactly including
// -0.0, NaN and infinities, strings with any bytes, symbols, keywords, lists,
// dicts). Dict keys print sorted. Values without a text form print as
// `#<fn name>`, `#<native name>`, `#<error "msg">`, `#<handle>`: readable by
// eye, refused by the reader.
//
// Display is the form `str`, `print` and `display` use: a string is its raw
// bytes, everything else as Inspect.
//
// Serialize is the persistence text form: Inspect's text, but a value with no
// text form anywhere inside is refused (returns false and says what and where),
// and so is a value nested deeper than the reader takes back
// (Limits::max_read_depth): whatever Serialize gives, the reader returns.
//
// All three walk values with an explicit stack: any nesting depth is safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "interp/value.h"

namespace sx::interp {

class State;

std::string Inspect(State& S, Value v);
void InspectTo(State& S, Value v, std::string* out);
std::string Display(State& S, Value v);
void DisplayTo(State& S, Value v, std::string* out);
bool Serialize(State& S, Value v, std::string* out, std::string* error);

// Text for an error message, never much longer than kBriefBytes however
// long the name or value: BriefText gives raw text (a token) as it is,
// BriefName quotes a string as Inspect does, Brief gives a value's Inspect
// text. A string, symbol or keyword longer
// than kBriefBytes is cut at a character boundary and says its size:
// "\"abcd\"... (1048576 bytes)"; any other long text ends in "...".
inline constexpr size_t kBriefBytes = 60;
std::string BriefText(std::string_view text);
std::string BriefName(std::string_view name);
std::string Brief(State& S, Value v);

// Shortest text that reads back to the same double: "1.0", "-0.0", "1e+300",
// "##NaN", "##Inf", "##-Inf".
void FormatDouble(double d, std::string* out);

// Optional hook the machine installs: the name of a closure for `#<fn name>`
// (nullptr or "" for an anonymous one). Unset, closures print as `#<fn>`.
extern const char* (*g_closure_name)(Value closure);

}  // namespace sx::interp
