// Compaction and verification of a Store.
//
// Compaction reclaims a sealed segment: it copies the segment's live ops
// (events still stored, kv values still current, tombstones that may still
// hide an older value) into compaction records at the end of the log, adds a
// stream-meta op (hwm, truncated-through) for every stream the segment
// mentions so the catalog and the hwm outlive the records that carried them,
// syncs, and only then deletes the segment file. A crash at any point leaves
// either the original or both; recovery keeps one copy of each event.
#include <algorithm>
#include <unordered_set>

#include "host/store/cid.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

namespace {

// Output records are cut at about this body size.
constexpr size_t kCompactionRecordBytes = 1u << 20;

// Explicit Compact() takes any sealed segment with at least this fraction
// of dead bytes, and seals the active one when it has at least this much.
constexpr double kExplicitDeadRatio = 0.1;
constexpr uint64_t kMinDeadBytesToSeal = 4096;

}  // namespace

void Store::MaybeAutoCompact() {
  if (!options_.auto_compact || in_compaction_ || options_.read_only) return;
  while (!compact_candidates_.empty() && !has_sticky_error_) {
    uint32_t number = *compact_candidates_.begin();
    compact_candidates_.erase(compact_candidates_.begin());
    auto it = segments_.find(number);
    if (it == segments_.end() || !it->second.sealed || number == active_) continue;
    const Segment& seg = it->second;
    if (seg.live >= options_.compact_live_ratio * (seg.end - kSegmentHeaderSize)) continue;
    // One segment per call keeps the pause bounded; a failure is already
    // sticky if it was an I/O failure, and otherwise leaves the segment.
    CompactSegment(number).IgnoreError();
    return;
  }
}

Status Store::CompactSegment(uint32_t number) {
  auto sit = segments_.find(number);
  if (sit == segments_.end() || !sit->second.sealed || number == active_) return Status::OK();
  in_compaction_ = true;
  struct Reset {
    bool* flag;
    ~Reset() { *flag = false; }
  } reset{&in_compaction_};

  std::string image;
  Status s = sit->second.file->ReadAt(0, sit->second.end, &image);
  if (!s.ok()) return s;

  struct Move {
    OpTag tag;
    std::string_view name;  // into image
    uint64_t seq;
    size_t offset;  // of the value in out
    uint32_t size;
  };
  std::string out;
  RecordBuilder b(&out);
  std::vector<Move> moves;
  std::vector<std::string_view> touched;
  std::unordered_set<std::string_view> tombstones;
  bool older_exists = segments_.begin()->first < number;
  auto open_record = [&] {
    if (!b.open()) b.Begin(kCompactionRecord);
  };
  auto maybe_close = [&] {
    if (b.body_size() >= kCompactionRecordBytes) b.Finish();
  };

  SegmentScan scan;
  s = ScanSegment(
      image, number,
      [&](const RecordView& rec) -> Status {
        if (rec.type == kSegmentEndRecord) return Status::OK();
        uint64_t body_offset = rec.offset + kRecordHeaderSize;
        OpReader reader(rec.body);
        OpView op;
        while (reader.Next(&op)) {
          uint64_t value_offset = body_offset + (op.value.data() - rec.body.data());
          switch (op.tag) {
            case kAppendOp: {
              touched.push_back(op.name);
              auto it = streams_.find(op.name);
              if (it == streams_.end()) break;
              const auto& events = it->second.events;
              auto e = std::lower_bound(
                  events.begin(), events.end(), op.seq,
                  [](const EventLoc& loc, uint64_t seq) { return loc.seq < seq; });
              if (e == events.end() || e->seq != op.seq || e->segment != number ||
                  e->offset != value_offset) {
                break;
              }
              open_record();
              size_t at = b.AddAppend(op.name, op.seq, op.value);
              moves.push_back(Move{kAppendOp, op.name, op.seq, at,
                                   static_cast<uint32_t>(op.value.size())});
              maybe_close();
              break;
            }
            case kKvPutOp: {
              auto it = kv_.find(op.name);
              if (it == kv_.end() || it->second.segment != number ||
                  it->second.offset != value_offset) {
                break;
              }
              open_record();
              size_t at = b.AddKvPut(op.name, op.value);
              moves.push_back(Move{kKvPutOp, op.name, 0, at,
                                   static_cast<uint32_t>(op.value.size())});
              maybe_close();
              break;
            }
            case kKvDeleteOp:
              // Needed only while an older segment may hold a put it hides.
              if (older_exists && kv_.find(op.name) == kv_.end() &&
                  tombstones.insert(op.name).second) {
                open_record();
                b.AddKvDelete(op.name);
                maybe_close();
              }
              break;
            case kTruncateOp:
            case kStreamMetaOp:
              touched.push_back(op.name);
              break;
          }
        }
        return reader.status();
      },
      &scan);
  if (!s.ok() || scan.end != SegmentScan::End::kSealed) {
    return Status::Corruption("compact " + SegmentFileName(number) + ": " +
                              (s.ok() ? scan.reason : s.message()));
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (std::string_view name : touched) {
    auto it = streams_.find(name);
    if (it == streams_.end()) continue;
    open_record();
    b.AddStreamMeta(name, it->second.hwm, it->second.truncated);
    maybe_close();
  }
  if (b.open()) b.Finish();

  if (!out.empty()) {
    uint32_t segment;
    uint64_t base;
    s = WriteRecords(out, /*force_sync=*/true, &segment, &base);
    if (!s.ok()) return s.WithContext("compact " + SegmentFileName(number));
    for (const Move& m : moves) {
      auto loc_offset = static_cast<uint32_t>(base + m.offset);
      if (m.tag == kAppendOp) {
        auto& events = streams_.find(m.name)->second.events;
        auto e = std::lower_bound(events.begin(), events.end(), m.seq,
                                  [](const EventLoc& loc, uint64_t seq) { return loc.seq < seq; });
        e->segment = segment;
        e->offset = loc_offset;
      } else {
        kv_.find(m.name)->second = ValueLoc{segment, loc_offset, m.size};
      }
      AddLive(segment, OpCost(m.name.size(), m.size));
    }
  }
  compact_candidates_.erase(number);
  ++stats_.compactions;
  s = env_->DeleteFile(SegmentPath(number));
  if (!s.ok()) {
    // Still on disk, so still replayed at the next open: it must stay an
    // older segment for the tombstone rule above, or a later compaction
    // could drop a delete that hides one of its values. Nothing points
    // into it any more; an explicit Compact, or the first compaction after
    // the next open, retries the delete.
    sit->second.live = 0;
    return s.WithContext("compact " + SegmentFileName(number));
  }
  segments_.erase(sit);
  s = env_->SyncDir(dir_);
  ++syncs_;
  return s.ok() ? s : s.WithContext("compact " + SegmentFileName(number));
}

Status Store::Compact(const std::function<void(size_t done, size_t total)>& progress) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  auto active = segments_.find(active_);
  if (active != segments_.end() && !active->second.sealed) {
    const Segment& seg = active->second;
    uint64_t used = seg.end - kSegmentHeaderSize;
    uint64_t dead = used > seg.live ? used - seg.live : 0;
    if (dead >= kMinDeadBytesToSeal && dead >= kExplicitDeadRatio * used) {
      s = RollSegment(0);
      if (!s.ok()) return s;
    }
  }
  std::vector<uint32_t> todo;
  for (const auto& [number, seg] : segments_) {
    uint64_t used = seg.end - kSegmentHeaderSize;
    if (seg.sealed && number != active_ && seg.live < (1 - kExplicitDeadRatio) * used) {
      todo.push_back(number);
    }
  }
  for (size_t i = 0; i < todo.size(); ++i) {
    s = CompactSegment(todo[i]);
    if (!s.ok()) return s;
    if (progress) progress(i + 1, todo.size());
  }
  return Status::OK();
}

Status Store::Verify(const std::function<void(const std::string&)>& report) {
  size_t problems = 0;
  auto problem = [&](const std::string& what) {
    ++problems;
    report(what);
  };
  // 1. Every record of every segment: framing, checksum, op encoding.
  std::string image;
  uint32_t last = segments_.empty() ? 0 : segments_.rbegin()->first;
  for (const auto& [number, seg] : segments_) {
    std::string file = SegmentFileName(number);
    Status s = seg.file->ReadAt(0, seg.capacity, &image);
    if (!s.ok()) {
      problem(file + ": " + s.ToString());
      continue;
    }
    SegmentScan scan;
    s = ScanSegment(
        image, number,
        [&](const RecordView& rec) -> Status {
          if (rec.type == kSegmentEndRecord) return Status::OK();
          OpReader reader(rec.body);
          OpView op;
          while (reader.Next(&op)) {
          }
          if (!reader.status().ok()) {
            problem(file + " offset " + std::to_string(rec.offset) + ": " +
                    reader.status().message());
          }
          return Status::OK();
        },
        &scan);
    if (!s.ok()) problem(file + ": " + s.ToString());
    switch (scan.end) {
      case SegmentScan::End::kSealed:
        break;
      case SegmentScan::End::kCorrupt:
        problem(file + " offset " + std::to_string(scan.bad_offset) + ": " + scan.reason);
        break;
      case SegmentScan::End::kClean:
      case SegmentScan::End::kTornTail:
        if (number != last) {
          problem(file + " offset " + std::to_string(scan.valid_end) +
                  ": segment is not sealed but is not the last one");
        } else if (scan.end == SegmentScan::End::kTornTail) {
          report("note: " + file + " offset " + std::to_string(scan.valid_end) + ": torn tail (" +
                 scan.reason + "), cut off when the store is next opened for writing");
        }
        break;
    }
  }
  // 2. The index: seqs rising and within (truncated, hwm], every location
  // inside a segment's records and readable.
  std::string buf;
  auto check_loc = [&](const std::string& what, uint32_t segment, uint64_t offset, uint32_t size) {
    auto it = segments_.find(segment);
    if (it == segments_.end() || offset + size > it->second.end) {
      problem(what + ": location outside the log");
      return;
    }
    Status s = ReadValue(segment, offset, size, &buf);
    if (!s.ok()) problem(what + ": " + s.ToString());
  };
  for (const auto& [name, st] : streams_) {
    std::string what = "stream \"" + EscapeBytes(name, 64) + "\"";
    uint64_t prev = st.truncated;
    if (st.truncated > st.hwm) problem(what + ": truncated beyond its hwm");
    for (const EventLoc& e : st.events) {
      if (e.seq <= prev || e.seq > st.hwm) {
        problem(what + ": seq " + std::to_string(e.seq) + " out of order or above the hwm");
      }
      prev = e.seq;
      check_loc(what + " seq " + std::to_string(e.seq), e.segment, e.offset, e.size);
    }
  }
  for (const auto& [key, loc] : kv_) {
    check_loc("key \"" + EscapeBytes(key, 64) + "\"", loc.segment, loc.offset, loc.size);
  }
  // 3. Blobs: content matches the name.
  for (const std::string& cid : blobs_) {
    Status s = BlobGet(cid, &buf);
    if (!s.ok()) problem("blob " + cid + ": " + s.ToString());
  }
  if (problems > 0) return Status::Corruption(std::to_string(problems) + " problem(s) found");
  return Status::OK();
}

}  // namespace sx::store
