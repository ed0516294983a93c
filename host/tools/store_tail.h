// store_tail.h — `sx store tail DIR STREAM [--from N] [--follow] [--json]`:
// prints a stream's events from the shell, and with --follow waits for new
// ones as a writer beside it commits them (like `tail -f`).
//
// It opens the store read-only and without its lock, so it runs beside a
// live writer (docs/persist.md, "Readers and followers"). Each event is one
// line: "SEQ<TAB>value" with the value as `inspect` prints it, or with
// --json one JSON object {"stream":S,"seq":N,"event":E}, E as json-write
// writes it with keywords and symbols as their names and big integers as
// strings; a value JSON cannot hold (NaN, a function) comes as
// {"stream":S,"seq":N,"sx":TEXT} with its SX text instead. --from N starts at seq N (default: the
// first stored event).
// --follow ends only when killed or when standard output is closed.
// Exit status: 0, 1 when the store cannot be opened or read, 2 bad usage.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace sx::tools {

// args: the words after "store tail".
int StoreTail(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace sx::tools
