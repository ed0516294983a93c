// Compaction of a Store.
//
// Compaction reclaims a sealed segment: it copies the segment's live ops
// (events still stored, kv values still current, tombstones that may still
// hide an older value) into compaction records at the end of the log, adds a
// stream-meta op (hwm, truncated-through) for every stream the segment
// mentions so the catalog and the hwm outlive the records that carried them,
// copies its blob records, adds a retired record naming every segment
// deleted so far and this one, syncs, and only then deletes the segment
// file. A crash at any point leaves either the original or both; recovery
// keeps one copy of each event, and a retired segment that is still there
// is replayed like any other and compacted again later.
#include <algorithm>
#include <unordered_set>

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
    size_t record;  // where the record holding it starts in out
  };
  std::string out;
  RecordBuilder b(&out);
  std::vector<Move> moves;
  std::vector<std::string_view> touched;
  std::unordered_set<std::string_view> tombstones;
  std::vector<std::string_view> blobs;  // cids whose current record is in this segment
  std::unordered_set<std::string_view> blobs_seen;
  bool older_exists = segments_.begin()->first < number;
  size_t record = 0;
  auto open_record = [&] {
    if (b.open()) return;
    record = out.size();
    b.Begin(kCompactionRecord);
  };
  auto maybe_close = [&] {
    if (b.body_size() >= kCompactionRecordBytes) b.Finish();
  };

  SegmentScan scan;
  s = ScanSegment(
      image, number,
      [&](const RecordView& rec) -> Status {
        // An older retired record is superseded by the one written below.
        if (rec.type == kSegmentEndRecord || rec.type == kRetiredRecord ||
            rec.type == kExtentRecord) {
          return Status::OK();
        }
        if (rec.type == kBlobRecord) {
          uint64_t size;
          std::string_view cid;
          if (!DecodeBlob(rec.body, &size, &cid))
            return Status::Corruption("malformed blob record");
          auto it = blob_records_.find(cid);
          if (it != blob_records_.end() && it->second.segment == number &&
              blobs_seen.insert(cid).second) {
            blobs.push_back(cid);
          }
          return Status::OK();
        }
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
              // Still stored here: its run lies in this segment around it
              // (a segment holds one append of a seq at most; an empty
              // payload may lie at the run's very end).
              const EventRun* run = it->second.events.Find(op.seq);
              if (run == nullptr || run->segment != number || value_offset < run->begin ||
                  value_offset > run->end) {
                break;
              }
              open_record();
              size_t at = b.AddAppend(op.name, op.seq, op.value);
              moves.push_back(Move{kAppendOp, op.name, op.seq, at,
                                   static_cast<uint32_t>(op.value.size()), record});
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
              moves.push_back(
                  Move{kKvPutOp, op.name, 0, at, static_cast<uint32_t>(op.value.size()), record});
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
      &scan, /*whole_file=*/false);
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
  // Blobs are never deleted, so their records live on.
  for (std::string_view cid : blobs) b.AddBlob(cid, blob_records_.find(cid)->second.size);
  // Durable before the file goes: a segment that is missing but not retired
  // is one the store lost.
  SegmentSet retired = retired_;
  retired.Add(number);
  b.AddRetired(retired.Ranges());

  uint32_t segment;
  uint64_t base;
  s = WriteRecords(out, /*force_sync=*/true, &segment, &base);
  if (!s.ok()) return s.WithContext("compact " + SegmentFileName(number));
  retired_ = std::move(retired);
  for (std::string_view cid : blobs) {
    blob_records_.find(cid)->second.segment = segment;
    AddLive(segment, OpCost(cid.size(), 8));
  }
  std::vector<StreamState*> patched;
  for (const Move& m : moves) {
    auto loc_offset = static_cast<uint32_t>(base + m.offset);
    if (m.tag == kAppendOp) {
      StreamState& st = streams_.find(m.name)->second;
      if (!st.events.has_patches()) patched.push_back(&st);
      StreamIndex::Loc loc{
          segment, static_cast<uint32_t>(base + m.record),
          static_cast<uint32_t>(base + m.offset - AppendOpHeaderSize(m.name.size(), m.seq, m.size)),
          loc_offset, m.size};
      st.events.Patch(m.seq, loc);
    } else {
      kv_.find(m.name)->second = ValueLoc{segment, loc_offset, m.size};
    }
    AddLive(segment, OpCost(m.name.size(), m.size));
  }
  for (StreamState* st : patched) st->events.Settle(st->truncated);
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

}  // namespace sx::store
