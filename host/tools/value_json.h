// value_json.h — the export format's JSON form of a stored value, straight
// from and to the binary value encoding (host/ops/value_format.h), without
// building SX values: export and import go at the speed of the bytes.
//
// The JSON form is in docs/storage-format.md, "Export format". Both
// functions recurse once per level of nesting; the encoding's depth is
// bounded by the interpreter's Limits::max_read_depth (10000).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace sx::tools {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Writes the value encoded in binary version 1 (bytes after the version
// byte) as JSON. False for bytes that are not one whole valid value; what
// was written to w is then garbage.
bool BinaryToJson(std::string_view body, JsonWriter& w);

// Appends the canonical binary encoding (version byte included) of the
// JSON form j to *out: the bytes host::EncodeValue gives for the same value
// (dict keys sorted bytewise, every NaN as one). False, with *error, for
// JSON that is no value's form.
bool JsonToBinary(const rapidjson::Value& j, size_t max_depth, std::string* out,
                  std::string* error);

// Bytes as a name: a JSON string when UTF-8, else {"hex":"..."}.
void WriteBytes(JsonWriter& w, std::string_view s);
bool ReadBytes(const rapidjson::Value& j, std::string* out);

std::string Hex(std::string_view s);
bool Unhex(std::string_view hex, std::string* out);

}  // namespace sx::tools
