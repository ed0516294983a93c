// format.h — text for people: `format` with the fmt library's grammar, and
// the pretty printer behind `pprint-str` (and `pprint`, in stdlib/sys.sx)
// and the REPL's :show.
#pragma once

#include <cstddef>
#include <string>

#include "sx/sx.h"

namespace sx::host {

constexpr size_t kDefaultPrettyWidth = 80;

// v as inspect writes it, with lists and dicts that do not fit in `width`
// columns broken one element or entry per line, indented under their
// bracket. Reads back as v.
std::string PrettyText(Interpreter& in, const Value& v, size_t width = kDefaultPrettyWidth);

// Defines format and pprint-str.
void DefineFormatNatives(Interpreter& in);

}  // namespace sx::host
