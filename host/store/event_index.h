// StreamIndex: where a stream's stored events lie in the log, in memory
// bounded by the log's blocks rather than by its events.
//
// The events of a stream have dense, rising seqs and are written in seq
// order, so they lie in the log as runs: seqs first .. first + count - 1 in
// one segment, each record after the last. The index keeps one EventRun per
// run (28 bytes) instead of one location per event; a run is cut at
// kRunSpanBytes of log (so a read of one event reads at most that much) or
// kRunMaxEvents events. An event is found by reading its run's bytes and
// walking the records from the run's first one (ScanRun). A run that starts
// far into a record (a large batch) starts at its first event's op instead,
// and stays inside that record.
//
// A run's byte range [begin, end) may hold records of other streams and
// events of its own stream outside [first, last]; only the events whose
// seqs lie in the run count, the first of each seq in log order. So a run
// can be cut in two by seq without knowing where the cut lies in the file:
// both halves keep the byte range. That is how truncation and compaction
// copies (patches, below) work without reading the log.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "host/store/status.h"

namespace sx::store {

// A run's byte range spans at most this much log, unless one event is larger.
inline constexpr uint32_t kRunSpanBytes = 16u << 10;
inline constexpr uint32_t kRunMaxEvents = 1024;

// A run starting this far or further into its record starts at its op.
inline constexpr uint32_t kRunOpStartBytes = 512;

struct __attribute__((packed)) EventRun {
  uint64_t first;          // seq of its first event
  uint32_t count : 31;     // its events have seqs first .. first + count - 1
  uint32_t in_record : 1;  // begin is the first event's op, and the run ends in its record
  uint32_t segment;        // where they all lie
  uint32_t begin;          // offset of the record holding the first event (or of its op)
  uint32_t end;            // offset just past the last event's payload
  uint32_t bytes;          // payload bytes of its events (an estimate once the run was cut)
  uint64_t last() const { return first + count - 1; }
};
static_assert(sizeof(EventRun) == 28);

class StreamIndex {
 public:
  // True if seq lies above every seq added with Add (Add takes only those).
  bool Above(uint64_t seq) const { return runs_.empty() || seq > runs_.back().last(); }
  // Where an event lies: its segment, the record holding it, its op in the
  // record, its payload.
  struct Loc {
    uint32_t segment;
    uint32_t record;  // offset of the record
    uint32_t op;      // offset of the append op
    uint32_t offset;  // of the payload
    uint32_t size;    // of the payload
  };
  // seq must be Above().
  void Add(uint64_t seq, const Loc& loc);
  // A later location of seq, which may lie at or below seqs already added
  // (a compaction copy). Kept aside until Settle.
  void Patch(uint64_t seq, const Loc& loc);
  // Puts the patches in place (a later patch wins over an earlier one and
  // over Add), dropping those with seqs <= truncated.
  void Settle(uint64_t truncated);
  bool has_patches() const { return !patches_.empty(); }
  // Drops events with seq <= through; calls dropped for each run or piece.
  void DropThrough(uint64_t through, const std::function<void(const EventRun&)>& dropped);

  const std::vector<EventRun>& runs() const { return runs_; }
  bool empty() const { return runs_.empty(); }
  uint64_t first_seq() const { return runs_.front().first; }
  uint64_t events() const { return events_; }
  // Index of the run holding seq, or else of the first run above it.
  size_t Lower(uint64_t seq) const;
  // The run holding seq, or nullptr.
  const EventRun* Find(uint64_t seq) const;
  size_t MemoryBytes() const { return (runs_.capacity() + patches_.capacity()) * sizeof(EventRun); }
  void ShrinkToFit() {
    runs_.shrink_to_fit();
    patches_.shrink_to_fit();
  }

 private:
  static void Put(std::vector<EventRun>* runs, uint64_t seq, const Loc& loc);

  std::vector<EventRun> runs_;     // sorted by seq, disjoint
  std::vector<EventRun> patches_;  // in log order
  uint64_t events_ = 0;
};

// The part of run r with seqs from .. to (inclusive, inside r).
EventRun SliceRun(const EventRun& r, uint64_t from, uint64_t to);

// Walks the records in buf, the log bytes of run's segment from offset base
// on (base <= run.begin, and buf reaching at least run.end), and calls fn
// for each event of run with seq >= from, in seq order, with its payload
// (pointing into buf) and its offset in the segment. Stops early when fn
// returns false. Corruption if the bytes are not records or the run's
// events are not all there.
Status ScanRun(
    std::string_view buf, uint64_t base, std::string_view stream, const EventRun& run,
    uint64_t from,
    const std::function<bool(uint64_t seq, std::string_view payload, uint64_t offset)>& fn);

}  // namespace sx::store
