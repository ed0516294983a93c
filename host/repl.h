// repl.h — the read-eval-print loop of `sx` with no script.
//
// On a terminal it prompts, continues unbalanced forms on the next line, and
// keeps going after errors. When standard input is not a terminal it reads,
// evaluates and prints each form with no prompts, so `echo '(+ 1 2)' | sx`
// prints 3.
#pragma once

#include "host/setup.h"

namespace sx::host {

// Returns the process exit status.
int RunRepl(Host& host, bool interactive);

}  // namespace sx::host
