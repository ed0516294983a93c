// json.h — json-read, json-read-lines and json-write: JSON text to SX values
// and back, with RapidJSON.
//
// JSON is pure (no clock, no file), so these are natives rather than ops.
// They live in the host, not in interp/, because interp/ depends on nothing
// but the C++ library, fmt and Boost.Context, and a program that embeds the
// interpreter chooses its own JSON; they reach the interpreter through the
// public API alone, like any embedder's natives. The mapping, the options
// and the errors are documented in docs/language.md ("JSON").
#pragma once

#include <cstddef>

#include "sx/sx.h"

namespace sx::host {

// How deep arrays and objects may nest, by default, in text read or written.
constexpr size_t kJsonMaxDepth = 512;
// The most json-write's :max-depth may be: writing recurses once per level.
constexpr size_t kJsonMaxWriteDepth = 2000;

// Defines json-read, json-read-lines and json-write.
void DefineJsonNatives(Interpreter& in);

}  // namespace sx::host
