// Opening a Store: checking that the directory is a store (or making it
// one), taking the lock, and recovering the index from the log: replaying
// every segment, checking how they fit together, cutting a torn tail off,
// finishing an interrupted segment roll. Also the store marker's reading
// and writing.
#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "host/store/cid.h"
#include "host/store/coding.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"
#include "host/store/store_internal.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

std::string RecoveryNote::ToString() const {
  return (torn_tail ? "torn tail in " : "corruption in ") + file + " at offset " +
         std::to_string(offset) + ": " + what;
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
  std::vector<uint32_t> numbers = SegmentNumbers(names);
  if (!has_marker && numbers.empty() && !options_.read_only) {
    // A new store: the marker comes first, so that from the first segment
    // on the directory is known as a store and a lost segment shows.
    s = WriteMarker(0);
    if (!s.ok()) return s;
    has_marker = true;
  }
  std::vector<SegmentScan> scans(numbers.size());
  s = ReplaySegments(numbers, &scans);
  if (!s.ok()) return s;
  s = has_marker ? CheckSegmentsAgainstMarker(numbers, scans) : CheckMarkerNotLost(numbers, scans);
  if (!s.ok()) return s;
  s = SettleSegmentEnds(numbers, scans);
  if (!s.ok()) return s;
  FinishRecovery();
  s = LoadBlobs();
  if (!s.ok()) return s;
  return StartActiveSegment();
}

// The numbers of the segment files among names, sorted. A segment that was
// never published (its creation did not finish) is deleted.
std::vector<uint32_t> Store::SegmentNumbers(const std::vector<std::string>& names) {
  std::vector<uint32_t> numbers;
  for (const std::string& name : names) {
    uint32_t n;
    if (ParseSegmentFileName(name, &n)) {
      numbers.push_back(n);
    } else if (!options_.read_only && name.size() > 4 &&
               name.compare(name.size() - 4, 4, kTempSuffix) == 0) {
      env_->DeleteFile(dir_ + "/" + name).IgnoreError();
    }
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

Status Store::ReplaySegments(const std::vector<uint32_t>& numbers,
                             std::vector<SegmentScan>* scans) {
  for (size_t i = 0; i < numbers.size(); ++i) {
    Segment seg;
    Status s = ReplaySegment(numbers[i], &seg, &(*scans)[i]);
    if (!s.ok()) return s;
    segments_.emplace(numbers[i], std::move(seg));
  }
  return Status::OK();
}

// The log against what the marker says: where it ended at a clean close,
// and the newest segment created.
Status Store::CheckSegmentsAgainstMarker(const std::vector<uint32_t>& numbers,
                                         const std::vector<SegmentScan>& scans) {
  if (marker_.clean_end != 0 && !numbers.empty() && numbers.back() == marker_.newest_segment) {
    // Closed cleanly: the log must end exactly where it ended then.
    const SegmentScan& last = scans.back();
    if (last.end != SegmentScan::End::kCorrupt &&
        (last.valid_end != marker_.clean_end || last.end == SegmentScan::End::kTornTail)) {
      Status s =
          Problem(false, numbers.back(), std::min<uint64_t>(last.valid_end, marker_.clean_end),
                  "the store was closed cleanly with its log ending at offset " +
                      std::to_string(marker_.clean_end) + ", but it ends at offset " +
                      std::to_string(last.valid_end) +
                      (last.valid_end < marker_.clean_end ? ": records at its end are gone" : ""));
      if (!s.ok()) return s;
    }
  }
  uint32_t newest = numbers.empty() ? 0 : numbers.back();
  if (marker_.newest_segment > newest) {
    Status s =
        Problem(false, marker_.newest_segment, 0,
                numbers.empty() ? std::string("every segment file is gone: the store marker ") +
                                      kMarkerFileName + " says " +
                                      SegmentFileName(marker_.newest_segment) + " was created"
                                : std::string("the segment file is missing: the store marker ") +
                                      kMarkerFileName + " says it was created");
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// Without a marker the store must be one from before version 3: no segment
// may have been written by a version that keeps one.
Status Store::CheckMarkerNotLost(const std::vector<uint32_t>& numbers,
                                 const std::vector<SegmentScan>& scans) {
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (scans[i].version >= kFirstMarkedVersion) {
      return Problem(false, numbers[i], 0,
                     std::string("the store marker ") + kMarkerFileName +
                         " is missing, but this segment was written by a version that keeps one");
    }
  }
  return Status::OK();
}

// The newest segment is the one written to; a new store gets its first.
// The marker catches up with it.
Status Store::StartActiveSegment() {
  Status s;
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

}  // namespace sx::store
