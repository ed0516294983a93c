// utf8_check.cc — UTF-8 validation over RapidJSON's decoder.
#include "host/ops/utf8_check.h"

#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sx::host {

bool ValidUtf8(std::string_view text, size_t* bad_offset) {
  rapidjson::MemoryStream is(text.data(), text.size());
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  while (is.Tell() < text.size()) {
    size_t start = is.Tell();
    // ASCII, the common case, eight bytes at a time while no high bit is set.
    if (start + 8 <= text.size()) {
      uint64_t word;
      std::memcpy(&word, text.data() + start, sizeof word);
      if ((word & kHighBits) == 0) {
        is.src_ += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[start]) < 0x80) {
      is.Take();
      continue;
    }
    unsigned codepoint = 0;
    // MemoryStream answers '\0' past the end, which is never a continuation
    // byte, so a sequence cut short at the end is invalid too.
    if (!rapidjson::UTF8<>::Decode(is, &codepoint)) {
      *bad_offset = start;
      return false;
    }
  }
  return true;
}

void LineAndColumn(std::string_view text, size_t offset, size_t* line, size_t* column) {
  offset = std::min(offset, text.size());
  std::string_view before = text.substr(0, offset);
  *line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  size_t start = before.rfind('\n');
  start = start == std::string_view::npos ? 0 : start + 1;
  size_t col = 1;
  for (size_t i = start; i < offset; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++col;  // not a continuation byte
  }
  *column = col;
}

}  // namespace sx::host
