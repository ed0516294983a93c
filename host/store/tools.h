// The store's command-line tools: `sx store stats|dump|verify|compact|backup|
// salvage` (export and import, which know SX values, are host/tools/).
//
// args are the words after "store" (a leading "store" is also accepted);
// every command takes --json (one JSON object, or one a record for dump)
// and --help:
//   stats DIR            counts and sizes, and a line per stream (events,
//                        first and last seq, payload bytes); sizes human on a
//                        terminal
//   dump DIR             every record of every segment, in log order; names
//                        and payloads printed as text with non-printable
//                        bytes escaped (\xNN; in JSON, \u00NN)
//   verify DIR           checksums, framing and index invariants, blob hashes;
//                        prints each problem with file and offset
//   compact DIR          reclaims dead space; reports dead event records
//                        dropped, segments and bytes before and after
//   backup DIR OUT       a consistent copy beside a running writer, verified
//   salvage DIR OUT      the records of a damaged store that check out, into
//                        a new store; reports what was lost (backup.h)
// Long operations draw progress on stderr when it is a terminal only.
// Returns the exit code: 0 ok; 1 damage, not a store, or a failed
// operation; 2 bad usage; 3 verify found only a torn tail; 4 a writer holds
// the store (docs/storage-format.md, "Tools and their exit codes"). Tools
// never create a store except the OUT of backup and salvage; all but backup
// take the writer's lock.
// Output goes to out, diagnostics to err; the caller owns both streams.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "host/store/env.h"

namespace sx::store {

int RunStoreTool(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                 Env* env = nullptr);

}  // namespace sx::store
