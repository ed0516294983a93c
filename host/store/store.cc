// The store's open/recovery, write path and read path. Compaction and
// verification live in compaction.cc.
#include "host/store/store.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "host/store/cid.h"
#include "host/store/coding.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

namespace {

// Reads of adjacent runs are merged into one pread when the gap between
// them is at most this, up to kMaxReadSpan bytes per pread.
constexpr uint64_t kReadGapBytes = 4096;
constexpr uint64_t kMaxReadSpan = 4u << 20;

// Where an append written at buffer offsets (record, payload at) lies once
// the buffer is written at base of segment.
StreamIndex::Loc EventLoc(uint32_t segment, uint64_t base, size_t record, std::string_view name,
                          uint64_t seq, size_t at, uint32_t size) {
  size_t op = at - AppendOpHeaderSize(name.size(), seq, size);
  return StreamIndex::Loc{segment, static_cast<uint32_t>(base + record),
                          static_cast<uint32_t>(base + op), static_cast<uint32_t>(base + at), size};
}

// The live-byte cost of a run's events (OpCost of each).
uint64_t RunCost(size_t name_size, const EventRun& r) {
  return uint64_t{r.count} * OpCost(name_size, 0) + r.bytes;
}

std::string Quote(std::string_view name) {
  std::string out = "\"";
  out += EscapeBytes(name, 64);
  out += '"';
  return out;
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

// Publishes bytes as path by write-temp, sync, rename, sync dir, so the file
// exists under its name only whole. Without `durable` both syncs are left
// to the OS. On failure the temp file is removed.
Status PublishFile(Env* env, const std::string& dir, const std::string& path,
                   std::string_view bytes, bool durable) {
  std::string tmp = path + kTempSuffix;
  std::unique_ptr<File> file;
  Status s = env->OpenFile(tmp, OpenMode::kCreateTrunc, &file);
  if (s.ok()) s = file->WriteAt(0, bytes);
  if (s.ok() && durable) s = file->Sync();
  file.reset();
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (s.ok() && durable) s = env->SyncDir(dir);
  if (!s.ok()) env->DeleteFile(tmp).IgnoreError();
  return s;
}

}  // namespace

std::string RecoveryNote::ToString() const {
  return (torn_tail ? "torn tail in " : "corruption in ") + file + " at offset " +
         std::to_string(offset) + ": " + what;
}

// ---------------------------------------------------------------- open

Store::Store(const Options& options, std::string dir)
    : options_(options), env_(options.env ? options.env : Env::Default()), dir_(std::move(dir)) {}

Store::~Store() {
  if (flusher_.joinable()) {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    flusher_.join();
    // A clean close leaves nothing unsynced in batch mode.
    if (dirty_ && !has_sticky_error_) SyncActive().IgnoreError();
  }
  // A clean close records where the log ends, once it is all durable, so
  // that records lost from its end behind the store's back are noticed.
  if (!options_.read_only && !has_sticky_error_ && !marker_.id.empty()) {
    auto it = segments_.find(active_);
    if (it != segments_.end() && active_ == marker_.newest_segment && !it->second.sealed &&
        it->second.file->Sync().ok()) {
      WriteMarker(active_, static_cast<uint32_t>(it->second.end)).IgnoreError();
    }
  }
}

std::string Store::SegmentPath(uint32_t number) const {
  return dir_ + "/" + SegmentFileName(number);
}

std::string Store::BlobPath(const std::string& cid) const {
  return dir_ + "/" + kBlobDirName + "/" + cid;
}

Status Store::Open(const Options& options, const std::string& dir, std::unique_ptr<Store>* out) {
  Status s = OpenOnce(options, dir, out);
  if (!options.read_only || options.lock_read_only) return s;
  // A reader beside a live writer may list a segment that compaction
  // deletes before it is opened, or read the marker just before the writer
  // publishes a new segment. The writer moves on in microseconds: look again.
  Env* env = options.env ? options.env : Env::Default();
  for (int attempt = 1;
       attempt <= 6 && !s.ok() && !s.IsInvalidArgument() && !s.IsLocked() && env->DirExists(dir);
       ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2 << attempt));
    s = OpenOnce(options, dir, out);
  }
  return s;
}

Status Store::OpenOnce(const Options& options, const std::string& dir,
                       std::unique_ptr<Store>* out) {
  out->reset();
  if (options.segment_bytes < kMinSegmentBytes || options.segment_bytes > kMaxSegmentBytes) {
    return Status::InvalidArgument("segment_bytes must be between 4 KiB and 4 GiB");
  }
  if (options.initial_segment_bytes < kMinSegmentBytes) {
    return Status::InvalidArgument("initial_segment_bytes must be at least 4 KiB");
  }
  if (options.sync == SyncMode::kBatch && options.batch_ms <= 0) {
    return Status::InvalidArgument("batch_ms must be positive");
  }
  std::unique_ptr<Store> store(new Store(options, dir));
  Env* env = store->env_;
  if (!env->DirExists(dir)) {
    if (options.read_only || !options.create_if_missing) {
      return Status::NotFound("store directory " + dir + " does not exist");
    }
    Status s = env->CreateDir(dir);
    // The new directory's entry in its parent is durable before anything
    // is acknowledged inside it.
    size_t slash = dir.find_last_of('/');
    std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
    if (s.ok()) s = env->SyncDir(parent);
    if (!s.ok()) return s.WithContext("create " + dir);
  } else {
    // Nothing is locked or written in a directory that is not a store.
    std::vector<std::string> names;
    Status s = env->ListDir(dir, &names);
    bool has_marker;
    if (s.ok()) s = store->ReadMarker(names, &has_marker);
    if (!s.ok()) return s.WithContext("open " + dir);
    store->marker_ = StoreMarker();
  }
  if (!options.read_only || options.lock_read_only) {
    Status s = env->LockFile(dir + "/" + kLockFileName, &store->lock_);
    if (!s.ok()) return s.WithContext("open " + dir);
  }
  if (!options.read_only) {
    Status s = env->CreateDir(dir + "/" + kBlobDirName);
    if (!s.ok()) return s;
  }
  Status s = store->Recover();
  if (!s.ok()) return s.WithContext("open " + dir);
  if (!options.read_only && options.sync == SyncMode::kBatch) {
    store->flusher_ = std::thread([st = store.get()] { st->FlusherLoop(); });
  }
  *out = std::move(store);
  return Status::OK();
}

Status Store::Problem(bool torn_tail, uint32_t segment, uint64_t offset, const std::string& what) {
  RecoveryNote note{torn_tail, SegmentFileName(segment), offset, what};
  if (options_.on_recovery_problem) options_.on_recovery_problem(note);
  if (torn_tail || options_.salvage) return Status::OK();
  return Status::Corruption(note.ToString());
}

// The marker, if the directory has one. Without one, a directory that holds
// no segment must hold nothing but what the store itself may have put there:
// anything else is not a store, and is never taken for one.
Status Store::ReadMarker(const std::vector<std::string>& names, bool* present) {
  *present = false;
  bool any_segment = false;
  std::string foreign;
  for (const std::string& name : names) {
    uint32_t n;
    if (name == kMarkerFileName) {
      *present = true;
    } else if (ParseSegmentFileName(name, &n)) {
      any_segment = true;
    } else if (name != kLockFileName && name != kBlobDirName &&
               !(name.size() > 4 && name.compare(name.size() - 4, 4, kTempSuffix) == 0)) {
      if (foreign.empty()) foreign = name;
    }
  }
  if (*present) {
    std::string data;
    Status s = ReadFileToString(env_, dir_ + "/" + kMarkerFileName, &data);
    if (!s.ok()) return s;
    return DecodeStoreMarker(data, &marker_);
  }
  if (any_segment) return Status::OK();  // a store from before version 3
  std::vector<std::string> blobs;
  if (env_->DirExists(dir_ + "/" + kBlobDirName) &&
      env_->ListDir(dir_ + "/" + kBlobDirName, &blobs).ok() && !blobs.empty()) {
    // Blobs are logged in segments: a store from before version 3 that has
    // lost every segment file.
    return Status::Corruption(dir_ + " holds blobs but no segment file and no " + kMarkerFileName +
                              " file: its segment files are gone");
  }
  if (!foreign.empty()) {
    return Status::InvalidArgument(dir_ + " is not an sx store: it has no " + kMarkerFileName +
                                   " file and no segments, and holds \"" +
                                   EscapeBytes(foreign, 64) + "\"");
  }
  if (options_.read_only || !options_.create_if_missing) {
    return Status::NotFound(dir_ + " is not an sx store: it has no " + kMarkerFileName +
                            " file and no segments");
  }
  return Status::OK();
}

Status Store::WriteMarker(uint32_t newest_segment, uint32_t clean_end) {
  StoreMarker m = marker_;
  if (m.id.empty()) {
    std::random_device rd;
    while (m.id.size() < kStoreIdSize) {
      uint32_t r = rd();
      m.id.append(reinterpret_cast<const char*>(&r), sizeof(r));
    }
    m.id.resize(kStoreIdSize);
  }
  m.version = kFormatVersion;
  m.newest_segment = newest_segment;
  m.clean_end = clean_end;
  Status s = PublishFile(env_, dir_, dir_ + "/" + kMarkerFileName, EncodeStoreMarker(m), true);
  syncs_ += 2;
  if (!s.ok()) return s.WithContext(std::string("write the store marker ") + kMarkerFileName);
  marker_ = std::move(m);
  return Status::OK();
}

Status Store::Recover() {
  std::vector<std::string> names;
  Status s = env_->ListDir(dir_, &names);
  if (!s.ok()) return s;
  bool has_marker;
  s = ReadMarker(names, &has_marker);
  if (!s.ok()) return s;
  std::vector<uint32_t> numbers;
  for (const std::string& name : names) {
    uint32_t n;
    if (ParseSegmentFileName(name, &n)) {
      numbers.push_back(n);
    } else if (!options_.read_only && name.size() > 4 &&
               name.compare(name.size() - 4, 4, kTempSuffix) == 0) {
      // A segment that was never published: its creation did not finish.
      env_->DeleteFile(dir_ + "/" + name).IgnoreError();
    }
  }
  std::sort(numbers.begin(), numbers.end());
  if (!has_marker && numbers.empty() && !options_.read_only) {
    // A new store: the marker comes first, so that from the first segment
    // on the directory is known as a store and a lost segment shows.
    s = WriteMarker(0);
    if (!s.ok()) return s;
    has_marker = true;
  }
  std::vector<SegmentScan> scans(numbers.size());
  for (size_t i = 0; i < numbers.size(); ++i) {
    Segment seg;
    s = ReplaySegment(numbers[i], &seg, &scans[i]);
    if (!s.ok()) return s;
    segments_.emplace(numbers[i], std::move(seg));
  }
  if (has_marker && marker_.clean_end != 0 && !numbers.empty() &&
      numbers.back() == marker_.newest_segment) {
    // Closed cleanly: the log must end exactly where it ended then.
    const SegmentScan& last = scans.back();
    if (last.end != SegmentScan::End::kCorrupt &&
        (last.valid_end != marker_.clean_end || last.end == SegmentScan::End::kTornTail)) {
      s = Problem(false, numbers.back(), std::min<uint64_t>(last.valid_end, marker_.clean_end),
                  "the store was closed cleanly with its log ending at offset " +
                      std::to_string(marker_.clean_end) + ", but it ends at offset " +
                      std::to_string(last.valid_end) +
                      (last.valid_end < marker_.clean_end ? ": records at its end are gone" : ""));
      if (!s.ok()) return s;
    }
  }
  if (has_marker) {
    uint32_t newest = numbers.empty() ? 0 : numbers.back();
    if (marker_.newest_segment > newest) {
      s = Problem(false, marker_.newest_segment, 0,
                  numbers.empty() ? std::string("every segment file is gone: the store marker ") +
                                        kMarkerFileName + " says " +
                                        SegmentFileName(marker_.newest_segment) + " was created"
                                  : std::string("the segment file is missing: the store marker ") +
                                        kMarkerFileName + " says it was created");
      if (!s.ok()) return s;
    }
  } else {
    for (size_t i = 0; i < numbers.size(); ++i) {
      if (scans[i].version >= kFirstMarkedVersion) {
        s = Problem(false, numbers[i], 0,
                    std::string("the store marker ") + kMarkerFileName +
                        " is missing, but this segment was written by a version that keeps one");
        if (!s.ok()) return s;
        break;
      }
    }
  }
  s = SettleSegmentEnds(numbers, scans);
  if (!s.ok()) return s;
  FinishRecovery();
  s = LoadBlobs();
  if (!s.ok()) return s;
  if (segments_.empty()) {
    if (options_.read_only) return Status::OK();
    s = CreateSegment(std::max<uint32_t>(marker_.newest_segment, 0) + 1,
                      std::min(options_.initial_segment_bytes, options_.segment_bytes));
    if (!s.ok()) return s;
  }
  if (!options_.read_only &&
      (marker_.newest_segment < segments_.rbegin()->first || marker_.clean_end != 0)) {
    // A store from before version 3 gets its marker; one whose marker lags
    // (a crash between publishing a segment and rewriting it) catches up;
    // a clean end is forgotten before anything is written after it.
    s = WriteMarker(std::max(marker_.newest_segment, segments_.rbegin()->first));
    if (!s.ok()) return s;
  }
  active_ = segments_.rbegin()->first;
  std::lock_guard<std::mutex> l(mu_);
  flush_file_ = segments_.rbegin()->second.file;
  return Status::OK();
}

Status Store::ReplaySegment(uint32_t number, Segment* seg, SegmentScan* scan) {
  std::unique_ptr<File> file;
  std::string path = SegmentPath(number);
  Status s =
      env_->OpenFile(path, options_.read_only ? OpenMode::kReadOnly : OpenMode::kReadWrite, &file);
  if (!s.ok()) return s;
  uint64_t size;
  s = file->Size(&size);
  if (!s.ok()) return s;
  // A window at a time: opening needs no memory in proportion to the
  // segment's size.
  s = ScanSegmentFile(
      file.get(), size, number,
      [&](const RecordView& rec) -> Status {
        Status r = ReplayRecord(number, rec);
        return r.ok() ? r : Problem(false, number, rec.offset, r.message());
      },
      scan);
  if (!s.ok()) return s;
  // A growing segment larger than its log says (a crash between growing it
  // and logging that) is taken at the logged size: records go past it only
  // after the next growth is logged.
  seg->capacity = scan->version >= kFirstGrowingVersion ? std::min(size, scan->capacity) : size;
  seg->end = scan->valid_end;
  seg->version = scan->version;
  seg->sealed = scan->end == SegmentScan::End::kSealed;
  if (scan->end == SegmentScan::End::kCorrupt) {
    s = Problem(false, number, scan->bad_offset, scan->reason);
    seg->sealed = true;  // salvaged: never write after the damage
  }
  seg->file = std::move(file);
  return s;
}

// Once every segment is replayed: checks that none is missing and that
// only the newest ones are unsealed, cuts a torn tail off, and finishes a
// segment roll that a crash interrupted.
Status Store::SettleSegmentEnds(const std::vector<uint32_t>& numbers,
                                const std::vector<SegmentScan>& scans) {
  std::vector<SegmentFacts> facts;
  for (size_t i = 0; i < numbers.size(); ++i) {
    facts.push_back(SegmentFacts{numbers[i], scans[i].version, scans[i].end, scans[i].valid_end});
  }
  for (const ChainProblem& p : CheckSegmentChain(facts, retired_)) {
    Status s = Problem(false, p.segment, p.offset, p.what);
    if (!s.ok()) return s;
    auto it = segments_.find(p.segment);
    if (it != segments_.end()) it->second.sealed = true;  // salvaged: never write to it
  }
  if (retired_.empty() && !facts.empty() && facts.front().version == 1) {
    // A version-1 store: its compactions left gaps without a record. Adopt
    // them, so that the first retired record written here covers them.
    for (size_t i = 0; i < facts.size(); ++i) {
      uint32_t first = i == 0 ? 1 : facts[i - 1].number + 1;
      if (facts[i].number > first) retired_.Add(SegmentRange{first, facts[i].number - 1});
    }
  }
  for (size_t i = 0; i < numbers.size(); ++i) {
    bool newest = i + 1 == numbers.size();
    bool interrupted = RollInterrupted(facts, i);
    if (!newest && !interrupted) continue;
    Segment& seg = segments_[numbers[i]];
    if (scans[i].end == SegmentScan::End::kTornTail) {
      Status s = CutTornTail(numbers[i], &seg, scans[i]);
      if (!s.ok()) return s;
    }
    if (interrupted) {
      // The successor exists, so sealing this one is all the roll lacked.
      if (options_.read_only) {
        seg.sealed = true;  // in memory only: nothing is written to it
      } else {
        Status s = SealSegment(numbers[i], &seg);
        if (!s.ok()) return s.WithContext("seal " + SegmentFileName(numbers[i]));
      }
    }
  }
  return Status::OK();
}

// A torn tail is the end of the log: reported, and unless read-only its
// bytes are zeroed so that no fragment of them can ever be mistaken for a
// record once new records are written before them.
Status Store::CutTornTail(uint32_t number, Segment* seg, const SegmentScan& scan) {
  Status s = Problem(true, number, scan.valid_end, scan.reason);
  if (!s.ok()) return s;
  stats_.recovered_torn_bytes += scan.garbage_end - scan.valid_end;
  if (options_.read_only) return Status::OK();
  std::string zeros(scan.garbage_end - scan.valid_end, '\0');
  s = seg->file->WriteAt(scan.valid_end, zeros);
  if (s.ok()) s = seg->file->Sync();
  ++syncs_;
  return s;
}

Status Store::ReplayRecord(uint32_t number, const RecordView& rec) {
  switch (rec.type) {
    case kSegmentEndRecord:
    case kExtentRecord:  // the scan took the size
      return Status::OK();
    case kRetiredRecord: {
      // Each retired record lists everything retired so far; their union
      // is the latest one, whatever order they are met in.
      std::vector<SegmentRange> ranges;
      if (!DecodeRetired(rec.body, &ranges)) return Status::Corruption("malformed retired record");
      for (const SegmentRange& r : ranges) retired_.Add(r);
      return Status::OK();
    }
    case kBlobRecord: {
      uint64_t size;
      std::string_view cid;
      Sha256::Digest digest;
      if (!DecodeBlob(rec.body, &size, &cid) || !ParseRawSha256Cid(cid, &digest)) {
        return Status::Corruption("malformed blob record");
      }
      blob_records_.insert_or_assign(std::string(cid), BlobRecordLoc{number, size});
      return Status::OK();
    }
    default:
      return ReplayOps(number, rec.offset + kRecordHeaderSize, rec.type == kCompactionRecord,
                       rec.body);
  }
}

Status Store::ReplayOps(uint32_t number, uint64_t body_offset, bool compaction,
                        std::string_view body) {
  OpReader reader(body);
  OpView op;
  while (reader.Next(&op)) {
    if (op.tag == kKvPutOp || op.tag == kKvDeleteOp) {
      auto it = kv_.find(op.name);
      if (op.tag == kKvDeleteOp) {
        if (it != kv_.end()) kv_.erase(it);
        continue;
      }
      ValueLoc loc{number, static_cast<uint32_t>(body_offset + (op.value.data() - body.data())),
                   static_cast<uint32_t>(op.value.size())};
      if (it == kv_.end()) {
        kv_.emplace(std::string(op.name), loc);
      } else {
        it->second = loc;
      }
      continue;
    }
    auto it = streams_.find(op.name);
    if (it == streams_.end()) it = streams_.emplace(std::string(op.name), StreamState()).first;
    StreamState& st = it->second;
    switch (op.tag) {
      case kAppendOp: {
        if (!compaction && op.seq <= st.hwm) {
          Status s =
              Problem(false, number, body_offset - kRecordHeaderSize,
                      "append to stream " + Quote(op.name) + " with seq " + std::to_string(op.seq) +
                          " not above its hwm " + std::to_string(st.hwm));
          if (!s.ok()) return s;
          continue;  // salvaging: skip the op
        }
        st.hwm = std::max(st.hwm, op.seq);
        if (op.seq <= st.truncated) continue;
        auto at = [&](std::string_view part) {
          return static_cast<uint32_t>(body_offset + (part.data() - body.data()));
        };
        StreamIndex::Loc loc{number, static_cast<uint32_t>(body_offset - kRecordHeaderSize),
                             at(op.name) - static_cast<uint32_t>(1 + VarintLength(op.name.size())),
                             at(op.value), static_cast<uint32_t>(op.value.size())};
        // A compaction copy may come after newer events of its stream, and
        // beside its original if the original's segment was not yet deleted
        // at a crash: it is patched in, the later location winning.
        if (st.events.Above(op.seq)) {
          st.events.Add(op.seq, loc);
        } else {
          st.events.Patch(op.seq, loc);
        }
        break;
      }
      case kTruncateOp:
      case kStreamMetaOp: {
        uint64_t through = op.tag == kTruncateOp ? op.seq : op.seq2;
        if (op.tag == kStreamMetaOp) st.hwm = std::max(st.hwm, op.seq);
        if (through > st.truncated) {
          st.truncated = through;
          st.events.DropThrough(through, {});
        }
        break;
      }
      default:
        break;
    }
  }
  if (!reader.status().ok()) return reader.status();
  return Status::OK();
}

// Compaction copies sit later in the log than newer events of the same
// stream, and beside their originals if a crash came before the original's
// segment was deleted: Settle puts each patch in place, the later location
// winning.
void Store::SortReplayedStreams() {
  for (auto& [name, st] : streams_) {
    if (st.events.has_patches()) st.events.Settle(st.truncated);
  }
}

void Store::FinishRecovery() {
  for (auto& [name, st] : streams_) {
    st.events.Settle(st.truncated);
    st.events.DropThrough(st.truncated, {});
    for (const EventRun& r : st.events.runs()) AddLive(r.segment, RunCost(name.size(), r));
    st.events.ShrinkToFit();
  }
  for (const auto& [key, loc] : kv_) AddLive(loc.segment, OpCost(key.size(), loc.size));
  for (const auto& [cid, rec] : blob_records_) AddLive(rec.segment, OpCost(cid.size(), 8));
  for (const auto& [number, seg] : segments_) {
    if (seg.sealed && seg.live < options_.compact_live_ratio * (seg.end - kSegmentHeaderSize)) {
      compact_candidates_.insert(number);
    }
  }
}

Status Store::LoadBlobs() {
  std::string blob_dir = dir_ + "/" + kBlobDirName;
  if (!env_->DirExists(blob_dir)) return Status::OK();
  std::vector<std::string> names;
  Status s = env_->ListDir(blob_dir, &names);
  if (!s.ok()) return s;
  Sha256::Digest digest;
  for (const std::string& name : names) {
    if (ParseRawSha256Cid(name, &digest)) {
      blobs_.insert(name);
    } else if (!options_.read_only && name.size() > 4 &&
               name.compare(name.size() - 4, 4, kTempSuffix) == 0) {
      env_->DeleteFile(blob_dir + "/" + name).IgnoreError();
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------- write path

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

void Store::AddLive(uint32_t segment, uint64_t cost) {
  auto it = segments_.find(segment);
  if (it != segments_.end()) it->second.live += cost;
}

void Store::SubLive(uint32_t segment, uint64_t cost) {
  auto it = segments_.find(segment);
  if (it == segments_.end()) return;
  Segment& seg = it->second;
  seg.live = seg.live > cost ? seg.live - cost : 0;
  if (seg.sealed && seg.live < options_.compact_live_ratio * (seg.end - kSegmentHeaderSize)) {
    compact_candidates_.insert(segment);
  }
}

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

void Store::CommitGroup(std::span<const WriteBatch* const> batches, std::vector<Status>* results) {
  results->assign(batches.size(), Status::OK());
  Status writable = CheckWritable();
  if (!writable.ok()) {
    for (Status& r : *results) r = writable;
    return;
  }
  write_buf_.clear();
  RecordBuilder b(&write_buf_);
  Validator v(this);
  std::vector<Pending> pending;
  std::vector<size_t> written;  // indexes of batches that have a record
  for (size_t i = 0; i < batches.size(); ++i) {
    v.Mark();
    size_t pending_mark = pending.size();
    size_t record = write_buf_.size();
    b.Begin(kBatchRecord);
    Status s;
    for (const WriteBatch::Op& op : batches[i]->ops()) {
      const std::string& name = op.name;
      switch (op.kind) {
        case WriteBatch::OpKind::kAppend:
        case WriteBatch::OpKind::kAppendExpect: {
          s = CheckName("stream name", name);
          if (s.ok()) s = CheckValue("payload", *op.value);
          if (!s.ok()) break;
          uint64_t hwm = v.Hwm(name);
          if (op.kind == WriteBatch::OpKind::kAppendExpect && hwm != op.expected_seq) {
            s = Status::Conflict("append to stream " + Quote(name) + ": expected last seq " +
                                     std::to_string(op.expected_seq) + " but it is " +
                                     std::to_string(hwm),
                                 op.expected_seq, hwm);
            break;
          }
          if (op.seq <= hwm) {
            s = Status::Conflict("append to stream " + Quote(name) + ": seq " +
                                     std::to_string(op.seq) + " is not above the high-water mark " +
                                     std::to_string(hwm),
                                 hwm + 1, hwm);
            break;
          }
          v.SetHwm(name, op.seq);
          size_t at = b.AddAppend(name, op.seq, *op.value);
          pending.push_back(Pending{kAppendOp, &name, op.seq, at,
                                    static_cast<uint32_t>(op.value->size()), record});
          break;
        }
        case WriteBatch::OpKind::kKvPut:
        case WriteBatch::OpKind::kKvDelete:
        case WriteBatch::OpKind::kKvCas: {
          s = CheckName("key", name);
          if (s.ok() && op.value) s = CheckValue("value", *op.value);
          if (!s.ok()) break;
          if (op.kind == WriteBatch::OpKind::kKvCas) {
            std::optional<std::string> current;
            s = v.Value(name, &current);
            if (!s.ok()) break;
            if (current != op.expected) {
              const char* why = !current       ? "the key is absent"
                                : !op.expected ? "the key is present"
                                               : "the value differs from the expected one";
              s = Status::Conflict("kv-cas on key " + Quote(name) + ": " + why);
              break;
            }
          }
          if (op.value && op.kind != WriteBatch::OpKind::kKvDelete) {
            v.SetValue(name, std::string_view(*op.value));
            size_t at = b.AddKvPut(name, *op.value);
            pending.push_back(
                Pending{kKvPutOp, &name, 0, at, static_cast<uint32_t>(op.value->size())});
          } else if (v.Has(name)) {
            v.SetValue(name, std::nullopt);
            b.AddKvDelete(name);
            pending.push_back(Pending{kKvDeleteOp, &name, 0, 0, 0});
          }
          break;
        }
        case WriteBatch::OpKind::kTruncate: {
          s = CheckName("stream name", name);
          if (!s.ok()) break;
          uint64_t through = std::min(op.seq, v.Hwm(name));
          auto st = streams_.find(name);
          uint64_t truncated = st == streams_.end() ? 0 : st->second.truncated;
          if (through == 0 || through <= truncated) break;  // nothing to drop
          b.AddTruncate(name, through);
          pending.push_back(Pending{kTruncateOp, &name, through, 0, 0});
          break;
        }
      }
      if (!s.ok()) break;
    }
    if (s.ok() && b.body_size() + kRecordHeaderSize > kMaxRecordBodyBytes) {
      s = Status::InvalidArgument("batch is larger than the record limit of 1 GiB");
    }
    if (!s.ok()) {
      v.Rollback();
      b.Abandon();
      pending.resize(pending_mark);
      (*results)[i] = s;
    } else if (b.op_count() == 0) {
      b.Abandon();
    } else {
      b.Finish();
      written.push_back(i);
    }
  }
  if (written.empty()) return;
  uint32_t segment;
  uint64_t base;
  Status s = WriteRecords(write_buf_, false, &segment, &base);
  if (!s.ok()) {
    for (size_t i : written) (*results)[i] = s;
    return;
  }
  Apply(pending, segment, base);
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

// ---------------------------------------------------------------- read path

Status Store::ReadValue(uint32_t segment, uint64_t offset, uint32_t size, std::string* out) {
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    return Status::Corruption("index points into missing segment " + SegmentFileName(segment));
  }
  Status s = it->second.file->ReadAt(offset, size, out);
  ++stats_.records_read;
  if (!s.ok()) return s;
  if (out->size() != size) {
    return Status::Corruption("short read in " + SegmentFileName(segment) + " at offset " +
                              std::to_string(offset));
  }
  return Status::OK();
}

Status Store::Read(const std::string& stream, uint64_t from_seq, size_t limit,
                   std::vector<Event>* out) {
  out->clear();
  auto sit = streams_.find(stream);
  if (sit == streams_.end() || limit == 0) return Status::OK();
  const std::vector<EventRun>& runs = sit->second.events.runs();
  size_t i = sit->second.events.Lower(from_seq);
  std::string buf;
  while (i < runs.size() && out->size() < limit) {
    // Runs written together lie together: read as many as are wanted at once.
    const EventRun& head = runs[i];
    uint64_t start = head.begin;
    uint64_t end = head.end;
    uint64_t planned = head.last() - std::max(head.first, from_seq) + 1;
    size_t j = i + 1;
    while (j < runs.size() && planned < limit - out->size()) {
      const EventRun& next = runs[j];
      uint64_t next_end = std::max<uint64_t>(end, next.end);
      if (next.segment != head.segment || next.begin < start || next.begin > end + kReadGapBytes ||
          next_end - start > kMaxReadSpan) {
        break;
      }
      end = next_end;
      planned += next.count;
      ++j;
    }
    Status s = ReadValue(head.segment, start, static_cast<uint32_t>(end - start), &buf);
    for (size_t k = i; s.ok() && k < j && out->size() < limit; ++k) {
      s = ScanRun(buf, start, stream, runs[k], from_seq,
                  [&](uint64_t seq, std::string_view payload, uint64_t) {
                    out->push_back(Event{seq, std::string(payload)});
                    return out->size() < limit;
                  });
    }
    if (!s.ok()) return s.WithContext("read stream " + Quote(stream));
    i = j;
  }
  return Status::OK();
}

uint64_t Store::LastSeq(const std::string& stream) const {
  auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second.hwm;
}

uint64_t Store::FirstSeq(const std::string& stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return 1;
  const StreamState& st = it->second;
  return st.events.empty() ? st.hwm + 1 : st.events.first_seq();
}

std::vector<std::string> Store::Streams() const {
  std::vector<std::string> names;
  names.reserve(streams_.size());
  for (const auto& [name, st] : streams_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

Status Store::KvGet(const std::string& key, std::string* value) {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Status::NotFound("key " + Quote(key) + " is absent");
  Status s = ReadValue(it->second.segment, it->second.offset, it->second.size, value);
  return s.ok() ? s : s.WithContext("kv-get " + Quote(key));
}

bool Store::KvHas(const std::string& key) const { return kv_.count(key) > 0; }

std::vector<std::string> Store::KvKeys() const {
  std::vector<std::string> keys;
  keys.reserve(kv_.size());
  for (const auto& [key, loc] : kv_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// ---------------------------------------------------------------- readers

std::string Store::ActiveSegmentPath() const {
  return segments_.empty() ? std::string() : SegmentPath(segments_.rbegin()->first);
}

uint64_t Store::LogPosition() const {
  if (segments_.empty()) return 0;
  return static_cast<uint64_t>(segments_.rbegin()->first) << 32 | segments_.rbegin()->second.end;
}

// The new records of one segment, from where the last look stopped.
Status Store::RefreshSegment(uint32_t number, Segment* seg, bool* changed) {
  uint64_t end;
  bool sealed;
  Status s = ScanWholeRecordsFrom(
      seg->file.get(), seg->end, number,
      [&](const RecordView& rec) { return ReplayRecord(number, rec); }, &end, &sealed);
  if (!s.ok()) return s.WithContext("read " + SegmentFileName(number));
  if (end != seg->end) *changed = true;
  seg->end = end;
  seg->sealed = seg->sealed || sealed;
  uint64_t size;
  if (seg->file->Size(&size).ok()) seg->capacity = size;
  return Status::OK();
}

// A segment that compaction retired had its live records copied forward
// before the retired record was written; once nothing in the index points
// into it, its file (deleted by the writer, held open here) is let go.
void Store::CloseRetiredSegments() {
  std::set<uint32_t> retired;
  for (const auto& [number, seg] : segments_) {
    if (retired_.Contains(number) && number != segments_.rbegin()->first) retired.insert(number);
  }
  if (retired.empty()) return;
  for (const auto& [name, st] : streams_) {
    for (const EventRun& r : st.events.runs()) retired.erase(r.segment);
  }
  for (const auto& [key, loc] : kv_) retired.erase(loc.segment);
  for (uint32_t n : retired) segments_.erase(n);
}

Status Store::Refresh(bool* changed) {
  *changed = false;
  if (!options_.read_only) return Status::InvalidArgument("refresh: the store is writable");
  if (segments_.empty()) {
    // Opened before the writer made its first segment: start over.
    std::vector<std::string> names;
    Status s = env_->ListDir(dir_, &names);
    if (!s.ok()) return s;
    for (const std::string& name : names) {
      uint32_t n;
      if (ParseSegmentFileName(name, &n)) return Status::NotFound("the store has a first segment");
    }
    return Status::OK();
  }
  while (true) {
    auto it = segments_.rbegin();
    uint32_t number = it->first;
    Segment& seg = it->second;
    if (!seg.sealed) {
      Status s = RefreshSegment(number, &seg, changed);
      if (!s.ok()) return s;
      if (!seg.sealed) break;
    }
    // The writer rolled: its successor was published before this seal.
    std::unique_ptr<File> file;
    Status s = env_->OpenFile(SegmentPath(number + 1), OpenMode::kReadOnly, &file);
    if (!s.ok()) {
      // Gone already: compaction retired it (its records were copied on).
      return s.WithContext("follow the log into " + SegmentFileName(number + 1));
    }
    Segment next;
    s = CheckSegmentHeaderOf(file.get(), number + 1, &next.version);
    if (!s.ok()) return s;
    next.file = std::move(file);
    next.end = kSegmentHeaderSize;
    segments_.emplace(number + 1, std::move(next));
    active_ = number + 1;
    *changed = true;
  }
  if (*changed) {
    SortReplayedStreams();
    CloseRetiredSegments();
  }
  return Status::OK();
}

Status RefreshStore(std::unique_ptr<Store>* store, bool* changed) {
  Status s = (*store)->Refresh(changed);
  if (s.ok() || s.IsInvalidArgument()) return s;
  // The log moved on past where this store can follow it: open it afresh.
  std::unique_ptr<Store> fresh;
  Options options = (*store)->options();
  std::string dir = (*store)->dir();
  s = Store::Open(options, dir, &fresh);
  if (!s.ok()) return s;
  *store = std::move(fresh);
  *changed = true;
  return Status::OK();
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

Status Store::BlobGet(const std::string& cid, std::string* bytes) {
  Sha256::Digest want;
  if (!ParseRawSha256Cid(cid, &want)) {
    return Status::InvalidArgument("blob-get: " + Quote(cid) +
                                   " is not a CIDv1 raw sha2-256 base32 cid");
  }
  bool recorded = blob_records_.count(cid) > 0;
  if (!recorded && blobs_.count(cid) == 0) return Status::NotFound("blob " + cid + " is absent");
  Status s = ReadFileToString(env_, BlobPath(cid), bytes);
  ++stats_.records_read;
  if (s.IsNotFound() && recorded) {
    return Status::Corruption("blob " + cid + " is recorded in the log, but its file is missing");
  }
  if (!s.ok()) return s.WithContext("blob-get " + cid);
  if (Sha256::Hash(*bytes) != want) {
    return Status::Corruption("blob " + cid + ": content does not match its hash");
  }
  return Status::OK();
}

bool Store::BlobHas(const std::string& cid) const {
  return blob_records_.count(cid) > 0 || blobs_.count(cid) > 0;
}

// ---------------------------------------------------------------- stats

Store::Stats Store::GetStats() const {
  Stats st = stats_;
  st.streams = streams_.size();
  st.kv_keys = kv_.size();
  st.blobs = blobs_.size();
  for (const auto& [cid, rec] : blob_records_) st.blobs += blobs_.count(cid) == 0;
  st.segments = segments_.size();
  st.syncs = syncs_;
  st.events_live = 0;
  st.bytes_on_disk = 0;
  st.bytes_used = 0;
  st.bytes_live = 0;
  st.index_bytes = 0;
  for (const auto& [name, s] : streams_) {
    st.events_live += s.events.events();
    st.index_bytes += s.events.MemoryBytes() + name.size();
  }
  for (const auto& [number, seg] : segments_) {
    st.bytes_on_disk += seg.capacity;
    st.bytes_used += seg.end;
    st.bytes_live += seg.live;
  }
  for (const std::string& cid : blobs_) {
    uint64_t size = 0;
    if (env_->FileSize(BlobPath(cid), &size).ok()) st.bytes_on_disk += size;
  }
  // The runs and names as held, plus a hash-table node's overhead per entry.
  for (const auto& [key, loc] : kv_) st.index_bytes += key.size();
  st.index_bytes +=
      streams_.size() * (sizeof(StreamState) + 64) + kv_.size() * (sizeof(ValueLoc) + 64);
  return st;
}

}  // namespace sx::store
