// world.h — clocks, files, streams, JSON and formatting in the embedding API.
//
// AttachWorld gives an Interpreter what the `sx` command gives every script
// beyond the language: the natives iso-time, parse-iso-time, format,
// pprint-str, json-read, json-read-lines and json-write, and the functions
// of the stdlib module `sys` (now-ms, clock-ns, read-file, write-file,
// fold-lines, read-line, eprintln, getenv, exit, pprint, ...), each an
// ordinary function over one `perform` (the ops are in docs/host-ops.md).
//
// With WorldOptions::serve_ops (the default) it also installs the handler
// that serves those ops from the process's clocks, files, stdin, stderr and
// environment. Handlers are asked in the order they were added, so one
// added before AttachWorld sees each request first and can refuse it
// (IoResult::Failed) or fake it (a fixed clock). With serve_ops false
// nothing is served but what the embedder serves itself: a script's
// (read-file ...) is then the error `no handler for op "file/read"`.
//
//   sx::Interpreter in;
//   in.AddIoHandler([](sx::Interpreter& in, std::string_view op, const sx::Value&,
//                      const sx::Value&) {
//     return op == "time/now-ms" ? sx::IoResult::Served(in.Int(1700000000000))
//                                : sx::IoResult::Pass();
//   });
//   sx::AttachWorld(in);
//   in.Run(in.Eval("(iso-time (now-ms))"));   // "2023-11-14T22:13:20.000Z"
#pragma once

#include <functional>

#include "sx/sx.h"

namespace sx {

struct WorldOptions {
  // Install the handler of the time/*, file/*, stdin/*, stderr/*, env/* and
  // process/* ops.
  bool serve_ops = true;
  // Serves (exit code) once stdout and stderr are flushed; must not return.
  // Unset: std::exit(code).
  std::function<void(int code)> exit;
};

// Defines the natives and the `sys` functions in `in`, and with
// options.serve_ops installs the handler of their ops. Call it once per
// interpreter.
void AttachWorld(Interpreter& in, const WorldOptions& options = {});

}  // namespace sx
