// export.h — `sx store export`, `sx store import`, and the import of a data
// directory written by the reference host (`--from rose-ash`).
//
// The export format is JSON Lines, version 1 (docs/storage-format.md,
// "Export format"): a header line, then per stream a stream line and its
// live events (what persist/read returns), then the kv pairs. Every stored
// value is decoded (host/ops/value_codec.h) and written in a tagged JSON
// form in which every SX value round-trips exactly; export, import into a
// fresh store and export again gives the same bytes.
//
// These tools know SX values, so they live outside host/store (which knows
// only bytes). Each returns the exit code of the store tools: 0 ok, 1 a
// failure (said on err), 2 bad usage.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace sx::tools {

struct ExportOptions {
  std::vector<std::string> streams;  // only these streams; empty: all of them
  bool kv = false;                   // with streams given: also the kv pairs
  bool events = true;                // false: no streams at all (`--kv` alone)
  bool progress = false;             // a progress line on err
};

// Writes the store at dir to out. Opens the store read-only and without the
// writer's lock, as a reader does, so a running writer may go on: an open
// that meets the record the writer is writing (which reads as damage) is
// tried again, up to ten times.
int ExportStore(const std::string& dir, const ExportOptions& options, std::ostream& out,
                std::ostream& err);

struct ImportReport {
  uint64_t streams = 0;
  uint64_t events = 0;
  uint64_t kv = 0;
  uint64_t blobs = 0;
};

// Reads an export from in into the store at dir (created if missing). A
// seq at or below the stream's last seq in the store is refused, naming the
// line; what came before it stays imported.
int ImportStore(const std::string& dir, std::istream& in, bool progress, ImportReport* report,
                std::ostream& err);

// Reads the reference host's data directory src into the store at dir.
int ImportRoseAsh(const std::string& dir, const std::string& src, bool progress,
                  ImportReport* report, std::ostream& err);

// The `sx store` subcommands that need SX values (export, import), then
// every other one (host/store/tools.h). args are the words after "store".
int RunStoreCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace sx::tools
