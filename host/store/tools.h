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
// Returns the exit code: 0 ok, 1 a problem was found or an operation failed,
// 2 bad usage. Output goes to out, diagnostics to err. The caller owns both
// streams; the tools open the store themselves (read-only except compact).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "host/store/env.h"

namespace sx::store {

int RunStoreTool(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                 Env* env = nullptr);

}  // namespace sx::store
