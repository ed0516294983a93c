// load.h — source text into forms: reading files (`load`, `import`,
// Interpreter::EvalFile) and parsing them with the places the compiler
// reports. The definitions are in load.cc, with Machine::LoadFile and
// Machine::Import.
#pragma once

#include <string>
#include <string_view>

#include "interp/heap.h"
#include "interp/value.h"

namespace sx::interp {

class State;
class Reader;

// Library modules are read under this prefix ("<stdlib>/persist.sx").
inline constexpr std::string_view kLibraryPrefix = "<stdlib>/";
inline bool IsLibraryFile(Value file) {
  return IsString(file) && StringView(file).substr(0, kLibraryPrefix.size()) == kLibraryPrefix;
}
// Reads every form of a source text (positions recorded for the compiler).
// Raises an SX error naming file:line:col on bad input.
Value ParseSource(State& S, std::string_view text, const std::string& file);
// Reads a source file whole. Only a regular file is read: a directory, a
// device (/dev/zero never ends) or a pipe is refused without blocking.
// False, with the reason in *why ("it is a directory", "not a regular file",
// or the OS's), when it cannot.
bool ReadSourceFile(const std::string& path, std::string* out, std::string* why);
// Copies a reader's recorded positions into its list cells, where the
// compiler finds them: `aux` holds line << 12 | column (column capped at
// 4095, line at 2^20 - 1), `flags` the file's id (State::FileId).
void StampPositions(State& S, const Reader& r);

}  // namespace sx::interp
