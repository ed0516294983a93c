// utf8.h — what counts as valid UTF-8, in one place for the reader (which
// refuses invalid source) and the printer (which escapes invalid bytes).
// Valid means RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sx::interp {

// What a lead byte promises: how many continuation bytes follow (0 for
// ASCII, -1 for a byte that cannot start a sequence) and the range the first
// continuation byte must fall in (the others are always 0x80..0xbf).
struct Utf8Lead {
  int need;
  uint8_t lo;
  uint8_t hi;
};

inline Utf8Lead ClassifyUtf8Lead(uint8_t c) {
  if (c < 0x80) return {0, 0x80, 0xbf};
  if (c >= 0xc2 && c <= 0xdf) return {1, 0x80, 0xbf};
  if (c >= 0xe0 && c <= 0xef) {
    return {2, static_cast<uint8_t>(c == 0xe0 ? 0xa0 : 0x80),
            static_cast<uint8_t>(c == 0xed ? 0x9f : 0xbf)};
  }
  if (c >= 0xf0 && c <= 0xf4) {
    return {3, static_cast<uint8_t>(c == 0xf0 ? 0x90 : 0x80),
            static_cast<uint8_t>(c == 0xf4 ? 0x8f : 0xbf)};
  }
  return {-1, 0, 0};
}

// Length of the valid multi-byte sequence starting at s[i], or 0 when the
// bytes there are not one (ASCII also gives 0: callers handle it first).
inline size_t Utf8SequenceLength(std::string_view s, size_t i) {
  Utf8Lead lead = ClassifyUtf8Lead(static_cast<uint8_t>(s[i]));
  if (lead.need <= 0 || i + static_cast<size_t>(lead.need) >= s.size()) return 0;
  uint8_t lo = lead.lo, hi = lead.hi;
  for (int k = 1; k <= lead.need; ++k) {
    auto b = static_cast<uint8_t>(s[i + static_cast<size_t>(k)]);
    if (b < lo || b > hi) return 0;
    lo = 0x80;
    hi = 0xbf;
  }
  return static_cast<size_t>(lead.need) + 1;
}

}  // namespace sx::interp
