// How the segment files of a store fit together (format and rules:
// docs/storage-format.md, "Recovery"). ScanSegment checks each segment's own
// records; this checks the set: which numbers must be there, which may be
// gone because compaction retired them, and how the newest segments may end
// after a crash.
//
// The writer keeps two promises that make a lost file visible:
//   - a segment is sealed only after its successor has been published, so
//     a sealed segment is never the newest (version 2 segments);
//   - compaction writes a retired record naming every segment it has
//     deleted before it deletes one, so a number that is neither present
//     nor retired is a lost file.
// A version-1 store (no retired record, oldest segment version 1) was
// compacted without records; only its version-2 segments are checked, each
// of which must have its predecessor.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "host/store/log_record.h"

namespace sx::store {

// A set of segment numbers kept as sorted, disjoint ranges: the retired set
// of a store that has compacted for years is a handful of ranges.
class SegmentSet {
 public:
  void Add(uint32_t n) { Add(SegmentRange{n, n}); }
  void Add(SegmentRange r);
  bool Contains(uint32_t n) const;
  bool empty() const { return ranges_.empty(); }
  // Sorted; adjacent ranges are merged.
  std::vector<SegmentRange> Ranges() const;
  // The parts of r that are not in the set.
  std::vector<SegmentRange> Missing(SegmentRange r) const;

 private:
  std::map<uint32_t, uint32_t> ranges_;  // first -> last
};

// What the chain check needs to know of one segment file.
struct SegmentFacts {
  uint32_t number;
  uint32_t version;  // from the header; 0 if the header is unreadable
  SegmentScan::End end;
  uint64_t records_end;  // just past the last valid record
};

// Whether segments[i] is unsealed only because a crash came between
// publishing its successor (then the newest segment, still empty) and
// sealing it. Recovery then seals it; nothing was lost.
bool RollInterrupted(const std::vector<SegmentFacts>& segments, size_t i);

struct ChainProblem {
  uint32_t segment;
  uint64_t offset;
  bool file_missing;  // the segment's file is not there at all
  std::string what;
};

// Problems of the set of segments (sorted by number, present files only):
// numbers that are neither present nor retired, a sealed newest segment
// (its successor is missing), and an unsealed segment that is not the
// newest, unless RollInterrupted.
std::vector<ChainProblem> CheckSegmentChain(const std::vector<SegmentFacts>& segments,
                                            const SegmentSet& retired);

}  // namespace sx::store
