// backup.h — `sx store backup` and `sx store salvage`.
//
// Backup copies a store, running writer or not, into a new directory: it
// takes no lock and reads as a reader does. Sealed segments never change,
// so they are hard-linked (copied where the filesystem cannot link); of the
// newest segment only its committed prefix (the valid records; never a
// record the writer has not finished) is copied, into a file of the same
// size. Then the marker, naming that segment as the newest, and the blobs.
// If compaction deletes a segment while it is being linked, the copy starts
// over. The result is opened and verified.
//
// Salvage reads every segment of a damaged store record by record; past a
// damaged record it searches for the next valid one (as recovery does) and
// goes on, so the records before and after the damage are kept. It rebuilds
// the state the surviving records describe (events, kv pairs, truncations,
// last seqs; blobs whose bytes still hash to their name) into a new store
// and reports what it could not save. It holds the surviving events in
// memory while it works.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "host/store/env.h"
#include "host/store/status.h"

namespace sx::store {

struct BackupReport {
  uint64_t segments_linked = 0;  // sealed segments hard-linked
  uint64_t segments_copied = 0;  // copied (the newest, or where links fail)
  uint64_t bytes_copied = 0;     // of segments, committed prefix only
  uint64_t blobs = 0;
  uint64_t attempts = 0;  // > 1 when compaction deleted a segment under it
  std::vector<std::string> verify_problems;
};

// out must not exist or be empty. progress(done, total) counts segments.
Status BackupStore(Env* env, const std::string& dir, const std::string& out, BackupReport* report,
                   const std::function<void(uint64_t, uint64_t)>& progress = {});

struct SalvageReport {
  uint64_t records_kept = 0;
  uint64_t events = 0;  // written to the new store
  uint64_t kv = 0;
  uint64_t blobs = 0;
  uint64_t bytes_lost = 0;        // damaged bytes skipped in segments
  std::vector<std::string> lost;  // what could not be saved, one line each
};

// out must not exist or be empty.
Status SalvageStore(Env* env, const std::string& dir, const std::string& out, SalvageReport* report,
                    const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace sx::store
