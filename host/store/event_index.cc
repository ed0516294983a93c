#include "host/store/event_index.h"

#include <algorithm>
#include <map>
#include <string>

#include "host/store/coding.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

EventRun SliceRun(const EventRun& r, uint64_t from, uint64_t to) {
  EventRun s = r;
  s.first = from;
  s.count = static_cast<uint32_t>(to - from + 1);
  if (s.count != r.count) s.bytes = static_cast<uint32_t>(uint64_t{r.bytes} * s.count / r.count);
  return s;
}

void StreamIndex::Put(std::vector<EventRun>* runs, uint64_t seq, const Loc& loc) {
  uint64_t end = uint64_t{loc.offset} + loc.size;
  if (!runs->empty()) {
    EventRun& r = runs->back();
    // The next seq, after the run in its segment, within the span, and in
    // the run's record if the run must stay in it (a record that starts at
    // or before the run's op holds it).
    if (r.segment == loc.segment && seq == r.last() + 1 && loc.offset >= r.end &&
        end - r.begin <= kRunSpanBytes && r.count < kRunMaxEvents &&
        (!r.in_record || loc.record <= r.begin)) {
      ++r.count;
      r.end = static_cast<uint32_t>(end);
      r.bytes += loc.size;
      return;
    }
  }
  bool in_record = loc.op - loc.record >= kRunOpStartBytes;
  runs->push_back(EventRun{seq, 1, in_record, loc.segment, in_record ? loc.op : loc.record,
                           static_cast<uint32_t>(end), loc.size});
}

void StreamIndex::Add(uint64_t seq, const Loc& loc) {
  ++events_;
  Put(&runs_, seq, loc);
}

void StreamIndex::Patch(uint64_t seq, const Loc& loc) { Put(&patches_, seq, loc); }

void StreamIndex::Settle(uint64_t truncated) {
  if (patches_.empty()) return;
  // The latest patch of each seq wins: walk them newest first, keeping the
  // seqs covered so far as disjoint inclusive intervals.
  std::map<uint64_t, uint64_t> covered;
  std::vector<EventRun> pieces;
  for (auto p = patches_.rbegin(); p != patches_.rend(); ++p) {
    uint64_t lo = std::max(p->first, truncated + 1);
    uint64_t hi = p->last();
    if (lo > hi) continue;
    auto it = covered.upper_bound(lo);
    if (it != covered.begin() && std::prev(it)->second >= lo) --it;
    uint64_t cur = lo;
    while (it != covered.end() && it->first <= hi) {
      if (it->first > cur) pieces.push_back(SliceRun(*p, cur, it->first - 1));
      cur = std::max(cur, it->second + 1);
      ++it;
    }
    if (cur <= hi) pieces.push_back(SliceRun(*p, cur, hi));
    // Add [lo, hi] to covered, merging what it touches.
    uint64_t new_lo = lo, new_hi = hi;
    auto m = covered.upper_bound(lo);
    if (m != covered.begin() && std::prev(m)->second + 1 >= lo) --m;
    while (m != covered.end() && m->first <= hi + 1) {
      new_lo = std::min(new_lo, m->first);
      new_hi = std::max(new_hi, m->second);
      m = covered.erase(m);
    }
    covered.emplace(new_lo, new_hi);
  }
  patches_.clear();
  patches_.shrink_to_fit();
  std::sort(pieces.begin(), pieces.end(),
            [](const EventRun& a, const EventRun& b) { return a.first < b.first; });
  // Merge with the runs: a piece replaces what it covers.
  std::vector<EventRun> out;
  out.reserve(runs_.size() + 2 * pieces.size());
  size_t k = 0;
  uint64_t done = 0;  // every seq <= done is decided
  for (const EventRun& r : runs_) {
    uint64_t a = std::max(r.first, done + 1);
    uint64_t b = r.last();
    while (a <= b) {
      while (k < pieces.size() && pieces[k].last() < a) {
        out.push_back(pieces[k]);
        done = std::max(done, pieces[k].last());
        ++k;
      }
      if (k < pieces.size() && pieces[k].first <= b) {
        if (pieces[k].first > a) out.push_back(SliceRun(r, a, pieces[k].first - 1));
        out.push_back(pieces[k]);
        a = pieces[k].last() + 1;
        done = std::max(done, pieces[k].last());
        ++k;
      } else {
        out.push_back(SliceRun(r, a, b));
        done = b;
        break;
      }
    }
  }
  for (; k < pieces.size(); ++k) out.push_back(pieces[k]);
  runs_ = std::move(out);
  events_ = 0;
  for (const EventRun& r : runs_) events_ += r.count;
}

void StreamIndex::DropThrough(uint64_t through,
                              const std::function<void(const EventRun&)>& dropped) {
  size_t n = 0;
  while (n < runs_.size() && runs_[n].last() <= through) {
    if (dropped) dropped(runs_[n]);
    events_ -= runs_[n].count;
    ++n;
  }
  runs_.erase(runs_.begin(), runs_.begin() + static_cast<ptrdiff_t>(n));
  if (!runs_.empty() && runs_.front().first <= through) {
    EventRun& r = runs_.front();
    EventRun gone = SliceRun(r, r.first, through);
    if (dropped) dropped(gone);
    events_ -= gone.count;
    EventRun kept = SliceRun(r, through + 1, r.last());
    kept.bytes = r.bytes - gone.bytes;
    r = kept;
  }
}

size_t StreamIndex::Lower(uint64_t seq) const {
  auto it = std::upper_bound(runs_.begin(), runs_.end(), seq,
                             [](uint64_t s, const EventRun& r) { return s < r.first; });
  if (it != runs_.begin() && std::prev(it)->last() >= seq) --it;
  return static_cast<size_t>(it - runs_.begin());
}

const EventRun* StreamIndex::Find(uint64_t seq) const {
  size_t i = Lower(seq);
  return i < runs_.size() && runs_[i].first <= seq ? &runs_[i] : nullptr;
}

Status ScanRun(
    std::string_view buf, uint64_t base, std::string_view stream, const EventRun& run,
    uint64_t from,
    const std::function<bool(uint64_t seq, std::string_view payload, uint64_t offset)>& fn) {
  auto missing = [&](const std::string& why) {
    return Status::Corruption(
        "the events " + std::to_string(run.first) + ".." + std::to_string(run.last()) +
        " the index places in " + SegmentFileName(run.segment) + " at offsets " +
        std::to_string(run.begin) + ".." + std::to_string(run.end) + " are not there: " + why);
  };
  if (run.begin < base || run.end > base + buf.size()) return missing("outside the bytes read");
  uint64_t next = run.first;  // the seq wanted next
  size_t pos = run.begin - base;
  // Takes the events of the run among ops; true once all are taken or fn
  // says stop.
  auto take = [&](OpReader* reader) {
    OpView op;
    while (reader->Next(&op)) {
      if (op.tag != kAppendOp || op.seq != next || op.name != stream) continue;
      ++next;
      if (op.seq >= from &&
          !fn(op.seq, op.value, base + static_cast<uint64_t>(op.value.data() - buf.data()))) {
        return true;
      }
      if (next > run.last()) return true;
    }
    return false;
  };
  if (run.in_record) {
    // Whole ops from the first event's to the last one's payload.
    OpReader reader = OpReader::Ops(buf.substr(pos, run.end - run.begin));
    if (take(&reader)) return Status::OK();
    if (!reader.status().ok()) return missing(reader.status().message());
  }
  while (!run.in_record && pos + kRecordHeaderSize <= buf.size()) {
    uint32_t len = DecodeFixed32(buf.data() + pos + 4);
    auto type = static_cast<uint8_t>(buf[pos + 8]);
    if (type == kZeroType) break;
    if (type > kMaxRecordType) return missing("a record type " + std::to_string(type));
    size_t body = pos + kRecordHeaderSize;
    bool clipped = uint64_t{body} + len > buf.size();
    std::string_view body_bytes = buf.substr(body, clipped ? buf.size() - body : len);
    if (type == kBatchRecord || type == kCompactionRecord) {
      OpReader reader(body_bytes);
      if (take(&reader)) return Status::OK();
      if (!clipped && !reader.status().ok()) return missing(reader.status().message());
    }
    if (clipped) break;
    pos = body + len;
  }
  return missing("seq " + std::to_string(next) + " was not found");
}

}  // namespace sx::store
