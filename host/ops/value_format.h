// value_format.h — the constants of the stored value encoding: how an event
// payload or a kv value is written (docs/storage-format.md, "Value encoding").
// Nothing else lives here; host/ops/value_codec.cc reads and writes it.
#pragma once

#include <cstdint>

namespace sx::host::value_format {

// The first byte of a stored value names its encoding. The text form (the
// printer's persistence form, written before the binary encoding existed)
// never starts with a control byte, so any byte below 0x20 is a version of
// the binary encoding and anything else is text.
constexpr uint8_t kBinaryV1 = 0x01;
constexpr uint8_t kFirstTextByte = 0x20;

// Tags of binary version 1: one byte before each value.
enum Tag : uint8_t {
  kNil = 0x00,
  kFalse = 0x01,
  kTrue = 0x02,
  kEmptyList = 0x03,
  kInt = 0x04,      // zigzag LEB128 varint of the int64
  kFloat = 0x05,    // 8 bytes, IEEE 754 binary64 bits, little-endian; NaN as 0x7ff8000000000000
  kString = 0x06,   // varint length, the bytes
  kSymbol = 0x07,   // varint length, the name's bytes
  kKeyword = 0x08,  // varint length, the name's bytes (no ':')
  kList = 0x09,     // varint count >= 1, then the elements
  kDict = 0x0a,     // varint count, then per entry: varint key length, key bytes, value;
                    // keys sorted bytewise, each once
};

constexpr uint8_t kMaxTag = kDict;

}  // namespace sx::host::value_format
