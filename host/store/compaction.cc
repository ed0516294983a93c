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

// A compaction being staged: the segment's records, the compaction records
// that copy its live ops (framed in out), and what the index needs to be
// pointed at the copies once they are written.
struct Store::Compaction {
  // A copied event or value.
  struct Move {
    OpTag tag;
    std::string_view name;  // into image
    uint64_t seq;
    size_t offset;  // of the value in out
    uint32_t size;
    size_t record;  // where the record holding it starts in out
  };

  Compaction(uint32_t number, bool older_exists)
      : number(number), older_exists(older_exists), b(&out) {}

  // Ops go into a compaction record opened when one is needed and cut at
  // about kCompactionRecordBytes.
  void OpenRecord() {
    if (b.open()) return;
    record = out.size();
    b.Begin(kCompactionRecord);
  }
  void MaybeCloseRecord() {
    if (b.body_size() >= kCompactionRecordBytes) b.Finish();
  }

  const uint32_t number;
  const bool older_exists;  // an older segment may hold a put a delete hides
  std::string image;        // the segment's records
  std::string out;
  RecordBuilder b;
  std::vector<Move> moves;
  std::vector<std::string_view> touched;  // streams the segment mentions
  std::unordered_set<std::string_view> tombstones;
  std::vector<std::string_view> blobs;  // cids whose current record is in this segment
  std::unordered_set<std::string_view> blobs_seen;
  size_t record = 0;   // where the open record starts in out
  SegmentSet retired;  // what the retired record names: retired_ and this segment
};

Status Store::CompactSegment(uint32_t number) {
  auto sit = segments_.find(number);
  if (sit == segments_.end() || !sit->second.sealed || number == active_) return Status::OK();
  in_compaction_ = true;
  struct Reset {
    bool* flag;
    ~Reset() { *flag = false; }
  } reset{&in_compaction_};

  Compaction c(number, segments_.begin()->first < number);
  Status s = sit->second.file->ReadAt(0, sit->second.end, &c.image);
  if (!s.ok()) return s;
  s = CopyLiveRecords(&c);
  if (!s.ok()) return s;
  FinishCopies(&c);
  uint32_t segment;
  uint64_t base;
  s = WriteRecords(c.out, /*force_sync=*/true, &segment, &base);
  if (!s.ok()) return s.WithContext("compact " + SegmentFileName(number));
  retired_ = std::move(c.retired);
  PointIndexAtCopies(c, segment, base);
  compact_candidates_.erase(number);
  ++stats_.compactions;
  return DeleteCompacted(number, &sit->second);
}

// Copies the live ops of the segment's records; the segment must end with
// its seal.
Status Store::CopyLiveRecords(Compaction* c) {
  SegmentScan scan;
  Status s = ScanSegment(
      c->image, c->number, [&](const RecordView& rec) { return CopyLiveRecord(rec, c); }, &scan,
      /*whole_file=*/false);
  if (!s.ok() || scan.end != SegmentScan::End::kSealed) {
    return Status::Corruption("compact " + SegmentFileName(c->number) + ": " +
                              (s.ok() ? scan.reason : s.message()));
  }
  return Status::OK();
}

Status Store::CopyLiveRecord(const RecordView& rec, Compaction* c) {
  // An older retired record is superseded by the one written below.
  if (rec.type == kSegmentEndRecord || rec.type == kRetiredRecord || rec.type == kExtentRecord) {
    return Status::OK();
  }
  if (rec.type == kBlobRecord) return NoteBlobRecord(rec, c);
  uint64_t body_offset = rec.offset + kRecordHeaderSize;
  OpReader reader(rec.body);
  OpView op;
  while (reader.Next(&op)) {
    uint64_t value_offset = body_offset + (op.value.data() - rec.body.data());
    switch (op.tag) {
      case kAppendOp:
        c->touched.push_back(op.name);
        CopyStoredEvent(op, value_offset, c);
        break;
      case kKvPutOp:
        CopyCurrentValue(op, value_offset, c);
        break;
      case kKvDeleteOp:
        CopyTombstone(op, c);
        break;
      case kTruncateOp:
      case kStreamMetaOp:
        c->touched.push_back(op.name);
        break;
    }
  }
  return reader.status();
}

// A blob record the store goes by (the first of them in the segment) is
// copied once the ops are.
Status Store::NoteBlobRecord(const RecordView& rec, Compaction* c) {
  uint64_t size;
  std::string_view cid;
  if (!DecodeBlob(rec.body, &size, &cid)) return Status::Corruption("malformed blob record");
  auto it = blob_records_.find(cid);
  if (it != blob_records_.end() && it->second.segment == c->number &&
      c->blobs_seen.insert(cid).second) {
    c->blobs.push_back(cid);
  }
  return Status::OK();
}

void Store::CopyStoredEvent(const OpView& op, uint64_t value_offset, Compaction* c) {
  auto it = streams_.find(op.name);
  if (it == streams_.end()) return;
  // Still stored here: its run lies in this segment around it (a segment
  // holds one append of a seq at most; an empty payload may lie at the
  // run's very end).
  const EventRun* run = it->second.events.Find(op.seq);
  if (run == nullptr || run->segment != c->number || value_offset < run->begin ||
      value_offset > run->end) {
    return;
  }
  c->OpenRecord();
  size_t at = c->b.AddAppend(op.name, op.seq, op.value);
  c->moves.push_back(Compaction::Move{kAppendOp, op.name, op.seq, at,
                                      static_cast<uint32_t>(op.value.size()), c->record});
  c->MaybeCloseRecord();
}

void Store::CopyCurrentValue(const OpView& op, uint64_t value_offset, Compaction* c) {
  auto it = kv_.find(op.name);
  if (it == kv_.end() || it->second.segment != c->number || it->second.offset != value_offset) {
    return;
  }
  c->OpenRecord();
  size_t at = c->b.AddKvPut(op.name, op.value);
  c->moves.push_back(Compaction::Move{kKvPutOp, op.name, 0, at,
                                      static_cast<uint32_t>(op.value.size()), c->record});
  c->MaybeCloseRecord();
}

void Store::CopyTombstone(const OpView& op, Compaction* c) {
  // Needed only while an older segment may hold a put it hides.
  if (c->older_exists && kv_.find(op.name) == kv_.end() && c->tombstones.insert(op.name).second) {
    c->OpenRecord();
    c->b.AddKvDelete(op.name);
    c->MaybeCloseRecord();
  }
}

// After the copies: a stream-meta op for each stream the segment mentions,
// the blob records, and the retired record.
void Store::FinishCopies(Compaction* c) {
  AddStreamMetas(c);
  if (c->b.open()) c->b.Finish();
  // Blobs are never deleted, so their records live on.
  for (std::string_view cid : c->blobs) c->b.AddBlob(cid, blob_records_.find(cid)->second.size);
  // Durable before the file goes: a segment that is missing but not retired
  // is one the store lost.
  c->retired = retired_;
  c->retired.Add(c->number);
  c->b.AddRetired(c->retired.Ranges());
}

// The catalog and the hwm outlive the records that carried them.
void Store::AddStreamMetas(Compaction* c) {
  std::sort(c->touched.begin(), c->touched.end());
  c->touched.erase(std::unique(c->touched.begin(), c->touched.end()), c->touched.end());
  for (std::string_view name : c->touched) {
    auto it = streams_.find(name);
    if (it == streams_.end()) continue;
    c->OpenRecord();
    c->b.AddStreamMeta(name, it->second.hwm, it->second.truncated);
    c->MaybeCloseRecord();
  }
}

// Once the copies are written at base of segment, the index points at them.
void Store::PointIndexAtCopies(const Compaction& c, uint32_t segment, uint64_t base) {
  for (std::string_view cid : c.blobs) {
    blob_records_.find(cid)->second.segment = segment;
    AddLive(segment, OpCost(cid.size(), 8));
  }
  std::vector<StreamState*> patched;
  for (const Compaction::Move& m : c.moves) {
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
}

// Deletes the segment's file, once its copies are durable.
Status Store::DeleteCompacted(uint32_t number, Segment* seg) {
  Status s = env_->DeleteFile(SegmentPath(number));
  if (!s.ok()) {
    // Still on disk, so still replayed at the next open: it must stay an
    // older segment for the tombstone rule above, or a later compaction
    // could drop a delete that hides one of its values. Nothing points
    // into it any more; an explicit Compact, or the first compaction after
    // the next open, retries the delete.
    seg->live = 0;
    return s.WithContext("compact " + SegmentFileName(number));
  }
  segments_.erase(number);
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
