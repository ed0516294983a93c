#include "host/store/segment_chain.h"

#include <algorithm>
#include <iterator>

namespace sx::store {

using namespace log;  // NOLINT: the format constants

void SegmentSet::Add(SegmentRange r) {
  // Absorb every range that overlaps or touches r, then insert the union.
  auto it = ranges_.upper_bound(r.first);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (static_cast<uint64_t>(prev->second) + 1 >= r.first) it = prev;
  }
  while (it != ranges_.end() && it->first <= static_cast<uint64_t>(r.last) + 1) {
    r.first = std::min(r.first, it->first);
    r.last = std::max(r.last, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace(r.first, r.last);
}

bool SegmentSet::Contains(uint32_t n) const {
  auto it = ranges_.upper_bound(n);
  return it != ranges_.begin() && std::prev(it)->second >= n;
}

std::vector<SegmentRange> SegmentSet::Ranges() const {
  std::vector<SegmentRange> out;
  for (const auto& [first, last] : ranges_) out.push_back(SegmentRange{first, last});
  return out;
}

std::vector<SegmentRange> SegmentSet::Missing(SegmentRange r) const {
  std::vector<SegmentRange> out;
  uint64_t next = r.first;  // the lowest number of r not yet accounted for
  auto it = ranges_.upper_bound(r.first);
  if (it != ranges_.begin()) --it;
  for (; it != ranges_.end() && it->first <= r.last && next <= r.last; ++it) {
    if (it->second < next) continue;
    if (it->first > next) out.push_back(SegmentRange{static_cast<uint32_t>(next), it->first - 1});
    next = static_cast<uint64_t>(it->second) + 1;
  }
  if (next <= r.last) out.push_back(SegmentRange{static_cast<uint32_t>(next), r.last});
  return out;
}

bool RollInterrupted(const std::vector<SegmentFacts>& segments, size_t i) {
  if (i + 2 != segments.size()) return false;
  const SegmentFacts& seg = segments[i];
  const SegmentFacts& next = segments[i + 1];
  bool unsealed = seg.end == SegmentScan::End::kClean || seg.end == SegmentScan::End::kTornTail;
  // Only a version-2 writer publishes the successor first.
  return unsealed && next.number == seg.number + 1 && next.version >= 2 &&
         next.end == SegmentScan::End::kClean && next.records_end == kSegmentHeaderSize;
}

namespace {

// One problem per run of missing numbers: a stray file named far beyond
// the newest segment must not turn into billions of lines.
void ReportMissing(SegmentRange r, const std::string& why, std::vector<ChainProblem>* out) {
  std::string what = r.first == r.last ? "the segment file is missing"
                                       : "the segment files " + SegmentFileName(r.first) + " to " +
                                             SegmentFileName(r.last) + " are missing";
  out->push_back(ChainProblem{r.first, 0, true, what + ": " + why});
}

}  // namespace

std::vector<ChainProblem> CheckSegmentChain(const std::vector<SegmentFacts>& segments,
                                            const SegmentSet& retired) {
  std::vector<ChainProblem> out;
  if (segments.empty()) return out;
  // Every number below the newest must be present or retired once the
  // store has a retired record or began as a version-2 store; a version-1
  // store's compactions left gaps without a record.
  bool tracked = !retired.empty() || segments.front().version != 1;
  uint64_t expect = 1;  // the lowest number not yet seen
  for (const SegmentFacts& seg : segments) {
    if (seg.number > expect) {
      SegmentRange gap{static_cast<uint32_t>(expect), seg.number - 1};
      if (tracked) {
        for (const SegmentRange& lost : retired.Missing(gap)) {
          ReportMissing(lost, "compaction did not retire it", &out);
        }
      } else if (seg.version >= 2) {
        // A version-2 segment was created while its predecessor was the
        // newest one, and without a retired record nothing was deleted since.
        ReportMissing(SegmentRange{seg.number - 1, seg.number - 1},
                      SegmentFileName(seg.number) +
                          " was created while it was the newest, and compaction did not retire it",
                      &out);
      }
    }
    expect = static_cast<uint64_t>(seg.number) + 1;
  }
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const SegmentFacts& seg = segments[i];
    if (seg.end == SegmentScan::End::kSealed || seg.end == SegmentScan::End::kCorrupt) continue;
    if (RollInterrupted(segments, i)) continue;
    out.push_back(
        ChainProblem{seg.number, seg.records_end, false,
                     seg.end == SegmentScan::End::kTornTail
                         ? "an incomplete record in a segment that should have been sealed"
                         : "segment is not sealed but is not the last one"});
  }
  const SegmentFacts& newest = segments.back();
  if (newest.end == SegmentScan::End::kSealed && newest.version >= 2 &&
      newest.number < UINT32_MAX) {
    ReportMissing(SegmentRange{newest.number + 1, newest.number + 1},
                  SegmentFileName(newest.number) +
                      " is sealed, and a segment is sealed only after the next one exists",
                  &out);
  }
  std::sort(out.begin(), out.end(),
            [](const ChainProblem& a, const ChainProblem& b) { return a.segment < b.segment; });
  return out;
}

}  // namespace sx::store
