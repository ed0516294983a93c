// value_json.h — the export format's JSON form of a stored value, straight
// from and to the binary value encoding (host/ops/value_format.h), without
// building SX values: export and import go at the speed of the bytes.
//
// The JSON form is in docs/storage-format.md, "Export format". Both
// functions recurse once per level of nesting; the encoding's depth is
// bounded by the interpreter's Limits::max_read_depth (10000).
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "host/tools/json_out.h"

namespace sx::tools {

// Writes the value encoded in binary version 1 (bytes after the version
// byte) as JSON. False, with nothing written, for bytes that are not one
// whole valid value (they are checked first). With key, the value is an
// object member: the key is written first, when the bytes check out.
bool BinaryToJson(std::string_view body, JsonOut& w, const char* key = nullptr);
// As BinaryToJson in one pass, for the common case: false on damage or on a
// dict key that is not UTF-8, with w part-written (start the line again
// and call BinaryToJson).
bool BinaryToJsonFast(std::string_view body, JsonOut& w, const char* key = nullptr);

// Appends the canonical binary encoding (version byte included) of the
// JSON form j to *out: the bytes host::EncodeValue gives for the same value
// (dict keys sorted bytewise, every NaN as one). False, with *error, for
// JSON that is no value's form.
bool JsonToBinary(const rapidjson::Value& j, size_t max_depth, std::string* out,
                  std::string* error);

// Bytes as a name: a JSON string when UTF-8, else {"hex":"..."}.
void WriteBytes(JsonOut& w, std::string_view s);
bool ReadBytes(const rapidjson::Value& j, std::string* out);

std::string Hex(std::string_view s);
bool Unhex(std::string_view hex, std::string* out);

}  // namespace sx::tools
