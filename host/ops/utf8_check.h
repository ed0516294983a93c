// utf8_check.h — whether bytes are valid UTF-8, for the host's text ops.
//
// Files, stdin and JSON reach SX as strings; the host refuses bytes that are
// not UTF-8 rather than handing a script text it cannot trust. Decoding is
// RapidJSON's (the same tables its JSON reader uses).
#pragma once

#include <cstddef>
#include <string_view>

namespace sx::host {

// True when `text` is valid UTF-8. Otherwise false, with *bad_offset the
// byte offset where the first invalid sequence starts.
bool ValidUtf8(std::string_view text, size_t* bad_offset);

// 1-based line and column (in code points) of a byte offset in `text`.
void LineAndColumn(std::string_view text, size_t offset, size_t* line, size_t* column);

}  // namespace sx::host
