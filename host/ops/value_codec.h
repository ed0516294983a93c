// value_codec.h — how the host stores an SX value: the bytes of an event
// payload or a kv value (docs/storage-format.md, "Value encoding"; the
// constants are in value_format.h).
//
// EncodeValue writes the binary encoding, version 1: a version byte, then
// the value as tagged, length-prefixed parts. It is canonical — equal
// values (as equal? sees them) encode to the same bytes, dict entries in
// key order — so stored values compare by their bytes. DecodeValue reads it,
// and also the text form that stores written before it hold (the printer's
// persistence form, parsed by Interpreter::Deserialize), so those stores
// open unchanged. Both walk nested values with an explicit stack, so deep
// values never overflow the C stack. EncodeValue refuses a value nested
// deeper than the interpreter's Limits::max_read_depth, as Serialize does, so
// that what one backend stores every other backend and tool can give back.
//
// The codec uses the interpreter only through include/sx/sx.h.
#pragma once

#include <string>
#include <string_view>

#include "sx/sx.h"

namespace sx::host {

// Appends v's encoding to *out. False, with *error saying why (as
// Interpreter::Serialize says it: "cannot serialize a function (at key
// :f)"), for a value with no stored form; *out is then unchanged.
bool EncodeValue(Interpreter& in, const Value& v, std::string* out, std::string* error);

// Decodes stored bytes, binary or text. False, with *error saying why, for
// bytes that are neither.
bool DecodeValue(Interpreter& in, std::string_view bytes, Value* out, std::string* error);

// As DecodeValue, pushing the value on b (several values may be decoded
// into one builder and made a list there). On failure b is as it was.
bool DecodeInto(Interpreter& in, ValueBuilder& b, std::string_view bytes, std::string* error);

// True when `stored` (bytes of either encoding) holds the value whose
// binary encoding is `encoded`.
bool StoredValueIs(Interpreter& in, std::string_view stored, std::string_view encoded);

}  // namespace sx::host
