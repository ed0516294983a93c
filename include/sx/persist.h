// persist.h — the durable store in the embedding API.
//
// A DurableStore is a data directory of event streams, key/values and blobs
// (a segmented, checksummed log; docs/storage-format.md). Attached to an
// Interpreter it serves every `persist/*` and `blob/*` request
// (docs/persist-ops.md) and lets `(import persist)` find the persist library
// built into this library, so a script keeps its state exactly as it does
// under the `sx` command:
//
//   sx::StoreOptions options;
//   options.dir = "app-data";
//   std::string error;
//   std::unique_ptr<sx::DurableStore> store = sx::DurableStore::Open(options, &error);
//   if (!store) { /* error: "cannot open the store at app-data: ..." */ }
//   sx::Interpreter in;
//   store->Attach(in);
//   sx::Outcome o = in.Run(in.Eval(R"((import persist)
//     (persist/append (persist/durable-backend) "visits" "visited" 0 {}))"));
//
// Acknowledged writes. A write op whose answer the script received has been
// handed to the kernel, so killing the process never loses it; with
// SyncMode::kAlways it is also on stable storage, with kBatch it will be
// within 10 ms, with kNever when the OS decides.
//
// Ownership and threading. The DurableStore owns the directory's files and,
// unless read-only, its lock: a second writer (another process, or another
// DurableStore on the same directory) is refused until this one is closed
// or destroyed. It must outlive every Eval, Call, Resume and Run of the
// interpreters attached to it. Several interpreters may share one store;
// all of them and the store are used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sx/sx.h"

namespace sx {

namespace host {
class PersistService;
}

// When a write reaches stable storage: on every commit (kAlways), at most
// 10 ms later from a background thread (kBatch), or when the OS decides
// (kNever). A process crash loses nothing acknowledged in any mode; a power
// cut may lose the last writes under kBatch and kNever.
enum class SyncMode { kAlways, kBatch, kNever };

// "always", "batch" or "never". False (and *mode unchanged) for any other text.
bool ParseSyncMode(std::string_view text, SyncMode* mode);
const char* SyncModeName(SyncMode mode);

struct StoreOptions {
  // The data directory, created if missing unless read_only; or the URL of
  // a PostgreSQL database, postgresql://USER:PASSWORD@HOST:PORT/DB, with an
  // optional ?schema=NAME (docs/postgres.md), shared by many processes and
  // hosts. sync and segment_bytes apply to a directory only.
  std::string dir = "persist-data";
  SyncMode sync = SyncMode::kAlways;
  // Opens without the lock, beside a writer if there is one, and refuses
  // every write op with an error ("store is opened read-only"). The
  // directory must exist.
  bool read_only = false;
  // The size of new log segments, from 4 KiB to 4 GiB; 0 for the default
  // (64 MiB). Small segments are for tests of rolling and compaction.
  uint64_t segment_bytes = 0;
};

class DurableStore {
 public:
  // Opens the store now: recovers its state from the files and takes the
  // lock. nullptr, and *error saying why, when it cannot (locked by another
  // writer, damaged, not a directory, bad options).
  static std::unique_ptr<DurableStore> Open(const StoreOptions& options, std::string* error);
  // Opens the store at the first request that needs it, as the `sx` command
  // does: a script that never persists creates no directory. An open failure
  // is then the error of that request, and the next request tries again.
  static std::unique_ptr<DurableStore> OpenLazily(const StoreOptions& options);

  ~DurableStore();
  DurableStore(const DurableStore&) = delete;
  DurableStore& operator=(const DurableStore&) = delete;

  // Serves `persist/*` and `blob/*` requests of `in` from this store (a
  // batch handler, so writes of many tasks in one scheduler round share one
  // commit and one sync), and sets `in`'s module loader to the stdlib built
  // into this library (FindStdlibModule). A host with modules of its own
  // sets its loader afterwards and falls back to FindStdlibModule.
  void Attach(Interpreter& in);

  // Closes the files and releases the lock. Attached interpreters stay
  // attached: their next persist request reopens the store, recovering its
  // state from the files as a new process would.
  void Close();
  bool is_open() const;
  const StoreOptions& options() const { return options_; }

  // For the host's own internals (the `sx` command, tests); not part of the
  // stable API.
  host::PersistService& service() { return *service_; }

 private:
  explicit DurableStore(const StoreOptions& options);

  StoreOptions options_;
  std::unique_ptr<host::PersistService> service_;
};

// The stdlib built into this library: the source of module `name`
// ("persist", "persist/log", "test", ...), or false. An sx::ModuleLoader.
bool FindStdlibModule(std::string_view name, std::string* source);

}  // namespace sx
