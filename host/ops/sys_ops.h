// sys_ops.h — the ops through which a script meets the world outside the
// interpreter: the clocks, files, stdin, stderr, the environment and exit.
//
// interp/ knows nothing of any of them. A script reaches each with `perform`
// (the stdlib module `sys` wraps them as now-ms, read-file, eprintln, ...),
// and this handler serves them for the `sx` command. An embedder decides
// what a script may touch: it installs a handler of its own in front of this
// one to refuse an op (IoResult::Failed) or fake it (a fixed clock), or it
// never installs this one. The ops, arguments, answers and errors are listed
// in docs/host-ops.md.
//
// Errors reach SX as error values whose message names the op, the path when
// there is one, and the cause (the OS reason for a failed system call):
// `file/read: "orders.jsonl": No such file or directory`, with data
// {:op :cause} and :path where there is one.
#pragma once

#include <functional>
#include <string_view>

#include "sx/sx.h"

namespace sx::host {

struct SysOptions {
  // Serves process/exit, after stdout and stderr are flushed; must not
  // return. Unset: std::exit(code).
  std::function<void(int code)> exit;
};

// Serves one request, or passes (IoResult::Pass) when op is not one of ours.
IoResult HandleSysOp(Interpreter& in, std::string_view op, const Value& args,
                     const SysOptions& opts);

// Registers HandleSysOp with the interpreter.
void InstallSysOps(Interpreter& in, SysOptions opts);

}  // namespace sx::host
