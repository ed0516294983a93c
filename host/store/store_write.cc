// The Store's write path: appends, commits and group commits (validated
// against the index, framed as records, written with one write and synced
// per the sync mode, then applied to the index), the sticky error, the
// segments written to (creation, growth, seal, roll), the batch-mode
// flusher, and blob puts.
#include <algorithm>
#include <chrono>

#include "host/store/cid.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"
#include "host/store/store_internal.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

namespace {

// Where an append written at buffer offsets (record, payload at) lies once
// the buffer is written at base of segment.
StreamIndex::Loc EventLoc(uint32_t segment, uint64_t base, size_t record, std::string_view name,
                          uint64_t seq, size_t at, uint32_t size) {
  size_t op = at - AppendOpHeaderSize(name.size(), seq, size);
  return StreamIndex::Loc{segment, static_cast<uint32_t>(base + record),
                          static_cast<uint32_t>(base + op), static_cast<uint32_t>(base + at), size};
}

Status CheckName(const char* what, std::string_view name) {
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(name.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(kMaxNameBytes));
  }
  return Status::OK();
}

Status CheckValue(const char* what, std::string_view value) {
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(value.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(kMaxValueBytes));
  }
  return Status::OK();
}

}  // namespace

Status Store::CheckWritable() const {
  if (options_.read_only) return Status::InvalidArgument("store is opened read-only");
  if (has_sticky_error_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> l(mu_);
    return sticky_error_.WithContext("store refuses writes after an earlier failure; reopen it");
  }
  return Status::OK();
}

Status Store::SetStickyError(const Status& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (sticky_error_.ok()) sticky_error_ = s;
  has_sticky_error_.store(true, std::memory_order_release);
  return s;
}

Status Store::CreateSegment(uint32_t number, uint64_t capacity) {
  // Published by write-temp, sync, rename, sync dir: a segment file that
  // exists under its final name always has a durable, valid header.
  std::string path = SegmentPath(number);
  std::string tmp = path + kTempSuffix;
  std::unique_ptr<File> file;
  Status s = env_->OpenFile(tmp, OpenMode::kCreateTrunc, &file);
  if (s.ok()) s = file->Preallocate(capacity, options_.sync != SyncMode::kNever);
  if (s.ok()) s = file->WriteAt(0, EncodeSegmentHeader(number, static_cast<uint32_t>(capacity)));
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = env_->RenameFile(tmp, path);
  if (s.ok()) s = env_->SyncDir(dir_);
  syncs_ += 2;
  if (!s.ok()) {
    file.reset();
    env_->DeleteFile(tmp).IgnoreError();
    return s.WithContext("create segment " + SegmentFileName(number));
  }
  Segment seg;
  seg.file = std::move(file);
  seg.capacity = capacity;
  seg.end = kSegmentHeaderSize;
  seg.version = kFormatVersion;
  segments_[number] = std::move(seg);
  return Status::OK();
}

Status Store::SealSegment(uint32_t number, Segment* seg) {
  std::string end;
  RecordBuilder b(&end);
  b.AddSegmentEnd(number);
  Status s = seg->file->WriteAt(seg->end, end);
  if (s.ok()) s = seg->file->Sync();
  ++syncs_;
  if (!s.ok()) return s;
  seg->end += end.size();
  seg->sealed = true;
  return Status::OK();
}

bool Store::Fits(const Segment& seg, uint64_t need) const {
  // A segment that may still grow keeps room for the extent record.
  uint64_t reserve = kSegmentEndRecordSize + (Growable(seg) ? kExtentRecordSize : 0);
  return seg.end + need + reserve <= seg.capacity;
}

bool Store::Growable(const Segment& seg) const {
  return seg.version >= kFirstGrowingVersion && !seg.sealed &&
         seg.capacity < options_.segment_bytes;
}

Status Store::GrowSegment(uint32_t number, Segment* seg, uint64_t need) {
  uint64_t capacity = seg->capacity;
  uint64_t want = seg->end + kExtentRecordSize + need + kSegmentEndRecordSize + kExtentRecordSize;
  while (capacity < want && capacity < options_.segment_bytes) capacity *= 2;
  capacity = std::min(capacity, options_.segment_bytes);
  // Zeros first (written, so that fdatasync stays cheap), then the extent
  // record, synced in every mode before any record lies past the old size:
  // a file cut back below a logged size is then always seen.
  Status s = seg->file->Preallocate(capacity, options_.sync != SyncMode::kNever);
  if (!s.ok()) return s.WithContext("grow segment " + SegmentFileName(number));
  std::string rec;
  RecordBuilder b(&rec);
  b.AddExtent(capacity);
  s = seg->file->WriteAt(seg->end, rec);
  if (s.ok()) s = seg->file->Sync();
  ++syncs_;
  if (!s.ok()) return SetStickyError(s.WithContext("grow segment " + SegmentFileName(number)));
  seg->end += rec.size();
  seg->capacity = capacity;
  return Status::OK();
}

Status Store::RollSegment(uint64_t need) {
  uint64_t capacity =
      std::max<uint64_t>(std::min(options_.initial_segment_bytes, options_.segment_bytes),
                         kSegmentHeaderSize + need + kSegmentEndRecordSize + kExtentRecordSize);
  if (capacity > kMaxSegmentBytes) return Status::InvalidArgument("commit too large for a segment");
  uint32_t next = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
  if (lock_) {
    // Someone may have deleted LOCK thinking it stale; the directory lock
    // still keeps other writers out, and this puts the pid note back.
    Status s = lock_->Check();
    if (!s.ok()) return SetStickyError(s);
  }
  // The successor is published before the seal is written, so a sealed
  // segment always has one and a lost newest segment shows. A crash between
  // the two steps leaves this one unsealed beside an empty successor, which
  // recovery accepts and seals.
  Status s = CreateSegment(next, capacity);
  if (!s.ok()) return s;  // not sticky: nothing was written; a later write retries
  // The marker names the new segment only once it is published: from now
  // on a store without it is refused.
  s = WriteMarker(next);
  if (!s.ok()) return SetStickyError(s);
  auto old = segments_.find(active_);
  if (old != segments_.end() && !old->second.sealed) {
    // The seal is durable before anything is written after it: a segment
    // followed by a used one must end with a segment-end record.
    s = SealSegment(active_, &old->second);
    if (!s.ok()) return SetStickyError(s);
    const Segment& seg = old->second;
    if (seg.live < options_.compact_live_ratio * (seg.end - kSegmentHeaderSize)) {
      compact_candidates_.insert(active_);
    }
  }
  active_ = next;
  std::lock_guard<std::mutex> l(mu_);
  flush_file_ = segments_[next].file;
  return Status::OK();
}

Status Store::WriteRecords(const std::string& buf, bool force_sync, uint32_t* segment,
                           uint64_t* base) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  auto it = segments_.find(active_);
  if (it != segments_.end() && !Fits(it->second, buf.size()) && Growable(it->second)) {
    s = GrowSegment(active_, &it->second, buf.size());
    if (!s.ok()) return s;  // sticky if the extent record failed; else a later write retries
  }
  if (it == segments_.end() || it->second.sealed || !Fits(it->second, buf.size())) {
    s = RollSegment(buf.size());
    if (!s.ok()) return s;
    it = segments_.find(active_);
  }
  Segment& seg = it->second;
  s = seg.file->WriteAt(seg.end, buf);
  if (!s.ok()) return SetStickyError(s);
  *segment = active_;
  *base = seg.end;
  seg.end += buf.size();
  ++stats_.commits;
  if (force_sync || options_.sync == SyncMode::kAlways) return SyncActive();
  if (options_.sync == SyncMode::kBatch) {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = true;
  }
  return Status::OK();
}

Status Store::SyncActive() {
  auto it = segments_.find(active_);
  if (it == segments_.end()) return Status::OK();
  if (options_.sync == SyncMode::kBatch) {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = false;
  }
  Status s = it->second.file->Sync();
  ++syncs_;
  if (!s.ok()) return SetStickyError(s);
  return Status::OK();
}

void Store::FlusherLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, std::chrono::milliseconds(options_.batch_ms));
    if (!dirty_ || has_sticky_error_) continue;
    std::shared_ptr<File> file = flush_file_;
    dirty_ = false;
    l.unlock();
    Status s = file->Sync();
    ++syncs_;
    l.lock();
    if (!s.ok() && sticky_error_.ok()) {
      sticky_error_ = s;
      has_sticky_error_.store(true, std::memory_order_release);
    }
  }
}

struct Store::Pending {
  OpTag tag;
  const std::string* name;
  uint64_t seq;
  size_t offset;  // of the payload or value in the write buffer
  uint32_t size;
  size_t record = 0;  // where its record starts in the write buffer
};

void Store::DropEvents(const std::string& name, StreamState* st, uint64_t through) {
  if (through <= st->truncated) return;
  st->truncated = through;
  st->events.DropThrough(through,
                         [&](const EventRun& r) { SubLive(r.segment, RunCost(name.size(), r)); });
}

void Store::KillValue(const std::string& key, const ValueLoc& loc) {
  SubLive(loc.segment, OpCost(key.size(), loc.size));
}

void Store::Apply(const std::vector<Pending>& pending, uint32_t segment, uint64_t base) {
  for (const Pending& p : pending) {
    const std::string& name = *p.name;
    switch (p.tag) {
      case kAppendOp: {
        auto it = streams_.find(name);
        if (it == streams_.end()) it = streams_.emplace(name, StreamState()).first;
        StreamState& st = it->second;
        st.events.Add(p.seq, EventLoc(segment, base, p.record, name, p.seq, p.offset, p.size));
        st.hwm = p.seq;
        AddLive(segment, OpCost(name.size(), p.size));
        ++stats_.appends;
        break;
      }
      case kKvPutOp: {
        ValueLoc loc{segment, static_cast<uint32_t>(base + p.offset), p.size};
        auto [it, inserted] = kv_.try_emplace(name, loc);
        if (!inserted) {
          KillValue(name, it->second);
          it->second = loc;
        }
        AddLive(segment, OpCost(name.size(), p.size));
        break;
      }
      case kKvDeleteOp: {
        auto it = kv_.find(name);
        if (it != kv_.end()) {
          KillValue(name, it->second);
          kv_.erase(it);
        }
        break;
      }
      case kTruncateOp: {
        auto it = streams_.find(name);
        if (it != streams_.end()) DropEvents(name, &it->second, p.seq);
        break;
      }
      default:
        break;
    }
  }
}

Status Store::Append(const std::string& stream, uint64_t seq, const std::string& payload) {
  Status s = CheckName("stream name", stream);
  if (s.ok()) s = CheckValue("payload", payload);
  if (!s.ok()) return s.WithContext("append to stream " + Quote(stream));
  auto it = streams_.find(stream);
  uint64_t hwm = it == streams_.end() ? 0 : it->second.hwm;
  if (seq <= hwm) {
    return Status::Conflict("append to stream " + Quote(stream) + ": seq " + std::to_string(seq) +
                                " is not above the high-water mark " + std::to_string(hwm),
                            hwm + 1, hwm);
  }
  write_buf_.clear();
  RecordBuilder b(&write_buf_);
  b.Begin(kBatchRecord);
  size_t at = b.AddAppend(stream, seq, payload);
  b.Finish();
  uint32_t segment;
  uint64_t base;
  s = WriteRecords(write_buf_, false, &segment, &base);
  if (!s.ok()) return s.WithContext("append to stream " + Quote(stream));
  if (it == streams_.end()) it = streams_.emplace(stream, StreamState()).first;
  it->second.events.Add(
      seq, EventLoc(segment, base, 0, stream, seq, at, static_cast<uint32_t>(payload.size())));
  it->second.hwm = seq;
  AddLive(segment, OpCost(stream.size(), payload.size()));
  ++stats_.appends;
  return Status::OK();
}

// Checks a group's ops against the store plus the effects of the ops
// accepted so far, which it keeps in overlays; a failed batch's effects are
// rolled back from an undo log.
class Store::Validator {
 public:
  explicit Validator(Store* store) : store_(store) {}

  void Mark() { mark_ = undo_.size(); }
  void Rollback() {
    while (undo_.size() > mark_) {
      Undo& u = undo_.back();
      if (u.is_kv) {
        if (u.had)
          kv_[u.name] = u.kv;
        else
          kv_.erase(u.name);
      } else {
        if (u.had)
          hwm_[u.name] = u.hwm;
        else
          hwm_.erase(u.name);
      }
      undo_.pop_back();
    }
  }

  uint64_t Hwm(std::string_view name) const {
    auto it = hwm_.find(name);
    if (it != hwm_.end()) return it->second;
    auto st = store_->streams_.find(name);
    return st == store_->streams_.end() ? 0 : st->second.hwm;
  }
  void SetHwm(std::string_view name, uint64_t hwm) {
    auto it = hwm_.find(name);
    undo_.push_back(Undo{name, false, it != hwm_.end(), it != hwm_.end() ? it->second : 0, {}});
    hwm_[name] = hwm;
  }

  Status Value(const std::string& key, std::optional<std::string>* value) {
    auto it = kv_.find(key);
    if (it == kv_.end()) return store_->CurrentValue(key, value);
    if (it->second)
      *value = std::string(*it->second);
    else
      value->reset();
    return Status::OK();
  }
  bool Has(const std::string& key) const {
    auto it = kv_.find(key);
    if (it != kv_.end()) return it->second.has_value();
    return store_->kv_.count(key) > 0;
  }
  void SetValue(std::string_view key, std::optional<std::string_view> value) {
    auto it = kv_.find(key);
    undo_.push_back(Undo{key, true, it != kv_.end(), 0,
                         it != kv_.end() ? it->second : std::optional<std::string_view>()});
    kv_[key] = value;
  }

 private:
  struct Undo {
    std::string_view name;
    bool is_kv;
    bool had;
    uint64_t hwm;
    std::optional<std::string_view> kv;
  };
  Store* store_;
  std::unordered_map<std::string_view, uint64_t> hwm_;
  std::unordered_map<std::string_view, std::optional<std::string_view>> kv_;
  std::vector<Undo> undo_;
  size_t mark_ = 0;
};

Status Store::CurrentValue(const std::string& key, std::optional<std::string>* value) {
  auto it = kv_.find(key);
  if (it == kv_.end()) {
    value->reset();
    return Status::OK();
  }
  std::string v;
  Status s = ReadValue(it->second.segment, it->second.offset, it->second.size, &v);
  if (!s.ok()) return s;
  *value = std::move(v);
  return Status::OK();
}

// A group commit being staged: its batches' records, framed in write_buf_,
// the ops to apply once they are written, and which batches have one.
struct Store::Group {
  explicit Group(Store* store) : b(&store->write_buf_), v(store) {}

  RecordBuilder b;
  Validator v;
  std::vector<Pending> pending;
  std::vector<size_t> written;  // indexes of batches that have a record
  size_t record = 0;            // where the record of the batch being staged starts
};

void Store::CommitGroup(std::span<const WriteBatch* const> batches, std::vector<Status>* results) {
  results->assign(batches.size(), Status::OK());
  Status writable = CheckWritable();
  if (!writable.ok()) {
    for (Status& r : *results) r = writable;
    return;
  }
  write_buf_.clear();
  Group g(this);
  for (size_t i = 0; i < batches.size(); ++i) {
    Status s = StageBatch(i, *batches[i], &g);
    if (!s.ok()) (*results)[i] = s;
  }
  WriteGroup(g, results);
}

// Validates batch i against the store and the batches accepted before it,
// and frames it as a record. A refused batch leaves no trace; one whose ops
// are all no-ops gets no record.
Status Store::StageBatch(size_t i, const WriteBatch& batch, Group* g) {
  g->v.Mark();
  size_t pending_mark = g->pending.size();
  g->record = write_buf_.size();
  g->b.Begin(kBatchRecord);
  Status s = StageOps(batch, g);
  if (!s.ok()) {
    g->v.Rollback();
    g->b.Abandon();
    g->pending.resize(pending_mark);
  } else if (g->b.op_count() == 0) {
    g->b.Abandon();
  } else {
    g->b.Finish();
    g->written.push_back(i);
  }
  return s;
}

// Stages a batch's ops in order, up to the first one refused, and checks
// that its record stays within the limit.
Status Store::StageOps(const WriteBatch& batch, Group* g) {
  for (const WriteBatch::Op& op : batch.ops()) {
    Status s = StageOp(op, g);
    if (!s.ok()) return s;
  }
  if (g->b.body_size() + kRecordHeaderSize > kMaxRecordBodyBytes) {
    return Status::InvalidArgument("batch is larger than the record limit of 1 GiB");
  }
  return Status::OK();
}

Status Store::StageOp(const WriteBatch::Op& op, Group* g) {
  switch (op.kind) {
    case WriteBatch::OpKind::kAppend:
    case WriteBatch::OpKind::kAppendExpect:
      return StageAppend(op, g);
    case WriteBatch::OpKind::kKvPut:
    case WriteBatch::OpKind::kKvDelete:
    case WriteBatch::OpKind::kKvCas:
      return StageKv(op, g);
    case WriteBatch::OpKind::kTruncate:
      return StageTruncate(op, g);
  }
  return Status::OK();
}

// An append's seq must be above the hwm, which an append-expect must also
// find at its expected seq.
Status Store::StageAppend(const WriteBatch::Op& op, Group* g) {
  const std::string& name = op.name;
  Status s = CheckName("stream name", name);
  if (s.ok()) s = CheckValue("payload", *op.value);
  if (!s.ok()) return s;
  uint64_t hwm = g->v.Hwm(name);
  if (op.kind == WriteBatch::OpKind::kAppendExpect && hwm != op.expected_seq) {
    return Status::Conflict("append to stream " + Quote(name) + ": expected last seq " +
                                std::to_string(op.expected_seq) + " but it is " +
                                std::to_string(hwm),
                            op.expected_seq, hwm);
  }
  if (op.seq <= hwm) {
    return Status::Conflict("append to stream " + Quote(name) + ": seq " + std::to_string(op.seq) +
                                " is not above the high-water mark " + std::to_string(hwm),
                            hwm + 1, hwm);
  }
  g->v.SetHwm(name, op.seq);
  size_t at = g->b.AddAppend(name, op.seq, *op.value);
  g->pending.push_back(
      Pending{kAppendOp, &name, op.seq, at, static_cast<uint32_t>(op.value->size()), g->record});
  return Status::OK();
}

// A kv put, delete or CAS. A delete (or a CAS to no value) of an absent key
// writes nothing.
Status Store::StageKv(const WriteBatch::Op& op, Group* g) {
  const std::string& name = op.name;
  Status s = CheckName("key", name);
  if (s.ok() && op.value) s = CheckValue("value", *op.value);
  if (!s.ok()) return s;
  if (op.kind == WriteBatch::OpKind::kKvCas) {
    s = CheckCas(op, &g->v);
    if (!s.ok()) return s;
  }
  if (op.value && op.kind != WriteBatch::OpKind::kKvDelete) {
    g->v.SetValue(name, std::string_view(*op.value));
    size_t at = g->b.AddKvPut(name, *op.value);
    g->pending.push_back(Pending{kKvPutOp, &name, 0, at, static_cast<uint32_t>(op.value->size())});
  } else if (g->v.Has(name)) {
    g->v.SetValue(name, std::nullopt);
    g->b.AddKvDelete(name);
    g->pending.push_back(Pending{kKvDeleteOp, &name, 0, 0, 0});
  }
  return Status::OK();
}

// A CAS needs the key's value, as the group leaves it, to be the expected
// one (or the key absent, if none is expected).
Status Store::CheckCas(const WriteBatch::Op& op, Validator* v) {
  std::optional<std::string> current;
  Status s = v->Value(op.name, &current);
  if (!s.ok()) return s;
  if (current != op.expected) {
    const char* why = !current       ? "the key is absent"
                      : !op.expected ? "the key is present"
                                     : "the value differs from the expected one";
    return Status::Conflict("kv-cas on key " + Quote(op.name) + ": " + why);
  }
  return Status::OK();
}

// A truncation is clamped to the hwm; one that drops nothing writes nothing.
Status Store::StageTruncate(const WriteBatch::Op& op, Group* g) {
  const std::string& name = op.name;
  Status s = CheckName("stream name", name);
  if (!s.ok()) return s;
  uint64_t through = std::min(op.seq, g->v.Hwm(name));
  auto st = streams_.find(name);
  uint64_t truncated = st == streams_.end() ? 0 : st->second.truncated;
  if (through == 0 || through <= truncated) return Status::OK();  // nothing to drop
  g->b.AddTruncate(name, through);
  g->pending.push_back(Pending{kTruncateOp, &name, through, 0, 0});
  return Status::OK();
}

// Writes the records of the batches that have one, with one write (and
// one sync), then applies their ops to the index.
void Store::WriteGroup(const Group& g, std::vector<Status>* results) {
  if (g.written.empty()) return;
  uint32_t segment;
  uint64_t base;
  Status s = WriteRecords(write_buf_, false, &segment, &base);
  if (!s.ok()) {
    for (size_t i : g.written) (*results)[i] = s;
    return;
  }
  Apply(g.pending, segment, base);
  MaybeAutoCompact();
}

Status Store::Commit(const WriteBatch& batch) {
  const WriteBatch* one[1] = {&batch};
  std::vector<Status> results;
  CommitGroup(one, &results);
  return results[0];
}

Status Store::TruncateThrough(const std::string& stream, uint64_t seq) {
  WriteBatch b;
  b.TruncateThrough(stream, seq);
  return Commit(b);
}

Status Store::KvPut(const std::string& key, const std::string& value) {
  WriteBatch b;
  b.KvPut(key, value);
  return Commit(b);
}

Status Store::KvDelete(const std::string& key) {
  WriteBatch b;
  b.KvDelete(key);
  return Commit(b);
}

Status Store::Sync() {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  return SyncActive();
}

// ---------------------------------------------------------------- blobs

Status Store::BlobPut(const std::string& bytes, std::string* cid) {
  *cid = CidForBytes(bytes);
  if (blob_records_.count(*cid) > 0) return Status::OK();
  Status s = CheckWritable();
  if (!s.ok()) return s;
  // A file without a record (a put cut short, or a version-1 store) is
  // written again: it may be one that never reached the disk whole.
  s = PublishBlob(*cid, bytes);
  if (!s.ok()) return s.WithContext("blob-put");
  blobs_.insert(*cid);
  // Only now the record: the log never names a blob whose file may be
  // missing (in sync=never a power cut can still lose the unsynced file).
  write_buf_.clear();
  RecordBuilder b(&write_buf_);
  b.AddBlob(*cid, bytes.size());
  uint32_t segment;
  uint64_t base;
  s = WriteRecords(write_buf_, false, &segment, &base);
  if (!s.ok()) return s.WithContext("blob-put");
  blob_records_.insert_or_assign(*cid, BlobRecordLoc{segment, bytes.size()});
  AddLive(segment, OpCost(cid->size(), 8));
  return Status::OK();
}

Status Store::PublishBlob(const std::string& cid, const std::string& bytes) {
  // Named by content, published by write-temp, sync, rename, sync dir.
  bool durable = options_.sync != SyncMode::kNever;
  Status s = PublishFile(env_, dir_ + "/" + kBlobDirName, BlobPath(cid), bytes, durable);
  if (durable) syncs_ += 2;
  return s;
}

}  // namespace sx::store
