// setup.h — what the `sx` command adds to a bare interpreter.
//
// The stdlib module loader, SX_PATH search directories, the natives of the
// test library, the IO handlers that serve `persist/*` and `blob/*`
// requests from the durable store, and the world a script meets: the ops of
// the clocks, files, streams and exit (sys_ops.h), the natives of time text,
// format and JSON, and the stdlib module `sys` that wraps the ops. Every entry point of the CLI
// (scripts, -e, tests, the REPL) builds its interpreter here, so they all see the same world.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sx/persist.h"
#include "sx/sx.h"

namespace sx::host {

class PersistService;

struct HostOptions {
  std::string data_dir;  // --data-dir/--store, $SX_PERSIST_URL, $SX_PERSIST_DIR, or ./persist-data
  std::string sync = "always";  // --sync, $SX_PERSIST_SYNC: always | batch | never
  std::string segment_bytes;    // $SX_PERSIST_SEGMENT_BYTES; empty: the store's default
  bool read_only = false;       // --read-only, $SX_PERSIST_READ_ONLY=1: a reader beside a writer
  std::vector<std::string> script_args;
  // Serves (exit code). Unset: close the store and end the process with
  // that status. A host that must outlive a script's exit (a test runner)
  // passes one that does something else; it must not return.
  std::function<void(int code)> exit;
};

// Fills defaults from the environment ($SX_PERSIST_DIR, $SX_PERSIST_SYNC,
// $SX_PERSIST_SEGMENT_BYTES, $SX_PERSIST_READ_ONLY).
void ApplyEnvironment(HostOptions* opts);

// Owns what an interpreter's host side needs beyond the interpreter: the
// store is opened on the first persist request, so a script that never
// persists never creates a data directory.
class Host {
 public:
  explicit Host(HostOptions opts);
  ~Host();

  Interpreter& interp() { return *in_; }
  const HostOptions& options() const { return opts_; }
  PersistService* persist() { return persist_.get(); }

 private:
  HostOptions opts_;
  std::unique_ptr<Interpreter> in_;
  std::unique_ptr<PersistService> persist_;
};

}  // namespace sx::host
