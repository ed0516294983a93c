// persist_ops.h — handle_op: the IO handler that serves `persist/*` and
// `blob/*` requests from the durable store.
//
// SX values cross into the store as their persistence text (`serialize`), so
// a value with no text form (a function) is refused with an error, never
// stored as nil. The store is opened on the first request; an open failure
// (locked directory, corruption) is reported to the request that needed it,
// and the next request tries again. The full list of ops, their arguments,
// answers and errors is in docs/persist-ops.md.
//
// Errors reach SX as error values whose message names the op, the stream or
// key, and the cause, and whose data is {:op :stream|:key :cause}. Conflicts
// of the check-then-write ops (append-expect, kv-cas, ...) are answers, not
// errors: {:conflict true :expected e :actual a}.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "host/store/store.h"
#include "sx/sx.h"

namespace sx::host {

class PersistService {
 public:
  // segment_bytes: the size of new log segments, in decimal; empty for the
  // store's default. Checked when the store is opened, like sync_mode.
  // read_only: the store is opened without its lock and refuses writes.
  PersistService(std::string data_dir, std::string sync_mode, std::string segment_bytes = "",
                 bool read_only = false);
  ~PersistService();

  // Registers handle_op with the interpreter.
  void Install(Interpreter& in);

  // Serves one request, or passes (IoResult::Pass) when op is not ours.
  IoResult HandleOp(Interpreter& in, std::string_view op, const Value& args);
  // Serves a scheduler round: the writes of many tasks as one group commit
  // (one write, one sync), reads in order after the writes before them.
  // Leaves rounds with fewer than two writes, and ops not ours, to HandleOp.
  void HandleBatch(Interpreter& in, std::span<IoRequest> batch);

  // The store, opening it if needed. nullptr (and *error set) on failure.
  store::Store* OpenStore(std::string* error);
  // Closes the store (tests reopen it to simulate a restart).
  void Close();
  const std::string& data_dir() const { return data_dir_; }
  const std::string& sync_mode() const { return sync_mode_; }
  bool read_only() const { return read_only_; }
  bool is_open() const { return store_ != nullptr; }

 private:
  std::string data_dir_;
  std::string sync_mode_;
  std::string segment_bytes_;
  bool read_only_ = false;
  std::unique_ptr<store::Store> store_;
};

}  // namespace sx::host
