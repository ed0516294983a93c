// The store's command-line tools, for `sx store stats|dump|verify|compact DIR`.
//
// args are the words after "store" (a leading "store" is also accepted):
//   stats DIR            counts and sizes
//   dump DIR [--json]    every record of every segment, in log order; names
//                        and payloads printed as text with non-printable
//                        bytes escaped (\xNN; in JSON, \u00NN)
//   verify DIR           checksums, framing and index invariants, blob hashes;
//                        prints each problem with file and offset
//   compact DIR          reclaims dead space (progress on a terminal only)
// Returns the exit code: 0 ok; 1 damage, not a store, or a failed
// operation; 2 bad usage; 3 verify found only a torn tail; 4 a writer holds
// the store (docs/storage-format.md, "Tools and their exit codes"). Tools
// never create a store, and take the writer's lock.
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
