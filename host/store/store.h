// Store: the durable storage engine behind SX's persist/* and blob/* ops.
//
// What it is. A directory holding an append-only, segmented, checksummed log
// of event streams and key/values, plus content-addressed blobs. Stream
// names, keys, payloads and values are opaque byte strings (any bytes,
// NUL included); names and keys may be up to log::kMaxNameBytes (1 MiB),
// payloads and values up to log::kMaxValueBytes (256 MiB). No file name is
// ever derived from a name or key. The format is in docs/storage-format.md.
//
// Guarantees. Every mutation is one checksummed record: a WriteBatch is all
// or nothing after any crash. Each stream has a high-water mark (hwm) that
// only rises; an append must carry a seq above it. An op has been handed to
// the kernel (write) before it returns, so killing the process never loses
// an acknowledged op; with SyncMode::kAlways it is also on stable storage
// (fdatasync), with kBatch it will be within batch_ms, with kNever when the
// OS decides. Payloads are not kept in memory: the index holds, per stream,
// runs of events that lie together in the log (StreamIndex, 28 bytes per
// run of up to 16 KiB of log), and per key the location of the latest value.
//
// Ownership and threading. The caller owns the Store; it owns its files, the
// directory lock (flock on DIR and on DIR/LOCK, so a second opener gets
// Locked: "store is locked by pid N", even after LOCK was deleted) and, in batch mode, one
// background flusher thread. All methods must be called from one thread at a time (the host's run
// loop or fiber scheduler); the flusher shares only the active file and the sticky error with it,
// under a mutex. Many requests arriving together should go through CommitGroup: one write and one
// sync for all of them.
//
// Failures. Methods return Status. Conflict for a refused append or CAS,
// InvalidArgument for bad arguments or writes to a read-only store, NotFound
// for absent keys and blobs, Corruption, IOError, NoSpace. A failed write or
// sync is sticky: the store refuses every later write (reads still work)
// until it is reopened, which recovers a consistent state from the log.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "host/store/env.h"
#include "host/store/event_index.h"
#include "host/store/log_format.h"
#include "host/store/segment_chain.h"
#include "host/store/status.h"
#include "host/store/write_batch.h"

namespace sx::store {

enum class SyncMode { kAlways, kBatch, kNever };

// Something recovery met while opening: a torn tail it cut off (normal
// after a crash) or corruption (fatal unless Options::salvage).
struct RecoveryNote {
  bool torn_tail = false;
  std::string file;
  uint64_t offset = 0;
  std::string what;
  std::string ToString() const;
};

struct Options {
  SyncMode sync = SyncMode::kAlways;
  int batch_ms = 10;   // kBatch: the flusher syncs at most this far behind
  Env* env = nullptr;  // nullptr: Env::Default()
  // A segment starts at initial_segment_bytes (or segment_bytes, if
  // smaller) and doubles up to segment_bytes.
  uint64_t segment_bytes = 64ull << 20;
  uint64_t initial_segment_bytes = log::kInitialSegmentBytes;
  // A missing or empty directory becomes a new store; otherwise it is
  // NotFound ("is not an sx store"). A directory holding other files is
  // never taken for a store (InvalidArgument), whatever this says.
  bool create_if_missing = true;
  bool read_only = false;  // no lock, no writes, no repair of a torn tail
  // With read_only: take the writer's lock all the same, so that no writer
  // changes the store while it is read (Locked if one runs). Tools use it.
  bool lock_read_only = false;
  // Compaction copies a sealed segment's live records forward and deletes
  // it once live bytes fall below this fraction of its records' bytes.
  double compact_live_ratio = 0.5;
  bool auto_compact = true;
  // Corruption — a damaged record in mid-log, a segment file cut short, a
  // missing segment — makes Open fail with Corruption unless salvage is
  // set: then the records before the bad spot are kept, the rest of that
  // segment is skipped (and it is never written to), and Open goes on.
  bool salvage = false;
  // Told about every problem recovery meets, including a torn tail that was
  // cut off. May be empty.
  std::function<void(const RecoveryNote&)> on_recovery_problem;
};

struct Event {
  uint64_t seq;
  std::string payload;
};

class Store {
 public:
  struct Stats {
    uint64_t streams = 0;      // in the catalog (ever appended to)
    uint64_t events_live = 0;  // stored events, after truncation
    uint64_t kv_keys = 0;
    uint64_t blobs = 0;
    uint64_t segments = 0;
    uint64_t bytes_on_disk = 0;  // segment files (their preallocated size, as logged) and blobs
    uint64_t bytes_used = 0;     // record bytes in segments
    uint64_t bytes_live = 0;     // estimate of bytes that compaction would keep
    uint64_t index_bytes = 0;    // estimate of the in-memory index
    uint64_t appends = 0;        // since open
    uint64_t commits = 0;        // record groups written since open
    uint64_t syncs = 0;          // fdatasync/fsync calls since open
    uint64_t records_read = 0;   // payload or value reads since open
    uint64_t compactions = 0;    // segments compacted since open
    uint64_t recovered_torn_bytes = 0;  // cut off at open
  };

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static Status Open(const Options& options, const std::string& dir, std::unique_ptr<Store>* out);

  // seq must be > hwm, else Conflict(expected = hwm + 1, actual = hwm).
  Status Append(const std::string& stream, uint64_t seq, const std::string& payload);
  // Atomic: validates every op first, then writes one record and syncs once.
  // An empty batch, or one whose ops are all no-ops, writes nothing.
  Status Commit(const WriteBatch& batch);
  // Validates each batch in order against the state the earlier valid ones
  // leave, then writes all the valid ones with one write and one sync.
  // (*results)[i] tells how batch i ended.
  void CommitGroup(std::span<const WriteBatch* const> batches, std::vector<Status>* results);

  // Events with seq >= from_seq, oldest first, at most limit of them.
  Status Read(const std::string& stream, uint64_t from_seq, size_t limit, std::vector<Event>* out);
  uint64_t LastSeq(const std::string& stream) const;  // hwm; 0 if never appended
  // Seq of the oldest stored event, or hwm + 1 if none is stored.
  uint64_t FirstSeq(const std::string& stream) const;
  // Drops events with seq <= seq (clamped to the hwm). The hwm and the
  // stream's place in Streams() stay. A stream never appended to: no-op.
  Status TruncateThrough(const std::string& stream, uint64_t seq);
  std::vector<std::string> Streams() const;  // sorted; every stream ever appended to

  Status KvGet(const std::string& key, std::string* value);  // NotFound if absent
  Status KvPut(const std::string& key, const std::string& value);
  Status KvDelete(const std::string& key);  // OK if absent
  bool KvHas(const std::string& key) const;
  std::vector<std::string> KvKeys() const;  // sorted

  // CIDv1 (raw, sha2-256, base32 "b..."); the same bytes are stored once.
  // The blob's file is published first, then a blob record is logged, so
  // the log knows every blob it must have.
  Status BlobPut(const std::string& bytes, std::string* cid);
  // Verifies the hash. NotFound if the store has no such blob; Corruption
  // if the log records it but its file is gone or damaged.
  Status BlobGet(const std::string& cid, std::string* bytes);
  bool BlobHas(const std::string& cid) const;  // a file or a record of it

  // Makes everything written so far durable (fdatasync).
  Status Sync();
  // Seals the active segment if it holds dead records and compacts every
  // sealed segment that holds any.
  Status Compact(const std::function<void(size_t done, size_t total)>& progress = {});
  Stats GetStats() const;

  // Checks the whole store: every record's checksum and framing, each
  // segment file's size, that no segment is missing (every number is
  // present or retired by compaction, and the newest is not sealed), the
  // index against the log, every event and value readable, every recorded
  // blob present, every blob's hash. Problems go to report, and notes
  // (starting "note: ") about harmless leftovers of a crash; the result is
  // Corruption if there was any problem.
  Status Verify(const std::function<void(const std::string&)>& report);

  // Readers beside a writer (docs/persist.md, "Readers and followers"). A
  // store opened read_only (without lock_read_only) shares the directory
  // with a live writer. Refresh reads the records committed since the last
  // Open or Refresh: the new tail of the active segment, following the
  // writer's segment rolls. It never passes a record that is not whole, so
  // the index always shows a prefix of the log at a record boundary.
  // *changed says whether anything new was read. InvalidArgument for a
  // writable store. NotFound or Corruption when the log can no longer be
  // followed from here (compaction deleted the segment to read next before
  // it was opened; the store had no segment at Open): RefreshStore then
  // opens the store afresh.
  Status Refresh(bool* changed);
  // The segment the writer appends to, as far as this store knows (a
  // follower waits for it to change); empty if there is none yet.
  std::string ActiveSegmentPath() const;
  // Where the log this store has read or written ends, as one number that
  // rises with every commit: the newest segment's number << 32 | the
  // offset past its last record. 0 for a store without segments.
  uint64_t LogPosition() const;

  const std::string& dir() const { return dir_; }
  const Options& options() const { return options_; }

 private:
  struct ValueLoc {
    uint32_t segment;
    uint32_t offset;
    uint32_t size;
  };
  struct StreamState {
    uint64_t hwm = 0;
    uint64_t truncated = 0;  // events with seq <= this are gone
    StreamIndex events;      // where the stored ones lie
  };
  struct Segment {
    std::shared_ptr<File> file;
    uint64_t capacity = 0;  // file size (as logged, for a growing segment)
    uint64_t end = 0;       // offset just past the last record
    uint64_t live = 0;      // OpCost sum of the live ops in it
    uint32_t version = 0;   // of its header
    bool sealed = false;
  };
  struct BlobRecordLoc {
    uint32_t segment;  // holding the blob record the store goes by
    uint64_t size;     // of the blob
  };
  struct Pending;  // an op waiting to be applied after its record is written
  class Validator;

  Store(const Options& options, std::string dir);
  static Status OpenOnce(const Options& options, const std::string& dir,
                         std::unique_ptr<Store>* out);

  Status Recover();
  // Steps of Recover, as are those below.
  std::vector<uint32_t> SegmentNumbers(const std::vector<std::string>& names);
  Status ReplaySegments(const std::vector<uint32_t>& numbers, std::vector<SegmentScan>* scans);
  Status CheckSegmentsAgainstMarker(const std::vector<uint32_t>& numbers,
                                    const std::vector<SegmentScan>& scans);
  Status CheckMarkerNotLost(const std::vector<uint32_t>& numbers,
                            const std::vector<SegmentScan>& scans);
  Status StartActiveSegment();
  Status ReplaySegment(uint32_t number, Segment* seg, SegmentScan* scan);
  Status ReplayRecord(uint32_t number, const RecordView& rec);
  Status ReplayOps(uint32_t number, uint64_t body_offset, bool compaction, std::string_view body);
  Status SettleSegmentEnds(const std::vector<uint32_t>& numbers,
                           const std::vector<SegmentScan>& scans);
  Status CutTornTail(uint32_t number, Segment* seg, const SegmentScan& scan);
  Status Problem(bool torn_tail, uint32_t segment, uint64_t offset, const std::string& what);
  void FinishRecovery();
  void SortReplayedStreams();
  Status RefreshSegment(uint32_t number, Segment* seg, bool* changed);
  void CloseRetiredSegments();
  Status LoadBlobs();

  Status ReadMarker(const std::vector<std::string>& names, bool* present);
  Status WriteMarker(uint32_t newest_segment, uint32_t clean_end = 0);

  Status CheckWritable() const;
  Status SetStickyError(const Status& s);
  Status CreateSegment(uint32_t number, uint64_t capacity);
  Status SealSegment(uint32_t number, Segment* seg);
  Status RollSegment(uint64_t need);
  // Whether need more bytes of records fit in seg; whether seg may grow
  // (version 4, below the segment size); growing it to fit them if it can.
  bool Fits(const Segment& seg, uint64_t need) const;
  bool Growable(const Segment& seg) const;
  Status GrowSegment(uint32_t number, Segment* seg, uint64_t need);
  // Writes buf (whole records) to the active segment in one write, syncing
  // per the sync mode or when force_sync. *segment and *base say where.
  Status WriteRecords(const std::string& buf, bool force_sync, uint32_t* segment, uint64_t* base);
  Status SyncActive();
  // The steps of CommitGroup: each batch staged (validated and framed as a
  // record), one op at a time, then the group written and applied.
  struct Group;  // a group commit being staged
  Status StageBatch(size_t i, const WriteBatch& batch, Group* g);
  Status StageOps(const WriteBatch& batch, Group* g);
  Status StageOp(const WriteBatch::Op& op, Group* g);
  Status StageAppend(const WriteBatch::Op& op, Group* g);
  Status StageKv(const WriteBatch::Op& op, Group* g);
  Status CheckCas(const WriteBatch::Op& op, Validator* v);
  Status StageTruncate(const WriteBatch::Op& op, Group* g);
  void WriteGroup(const Group& g, std::vector<Status>* results);
  void Apply(const std::vector<Pending>& pending, uint32_t segment, uint64_t base);
  void DropEvents(const std::string& name, StreamState* st, uint64_t through);
  void KillValue(const std::string& key, const ValueLoc& loc);
  void AddLive(uint32_t segment, uint64_t cost);
  void SubLive(uint32_t segment, uint64_t cost);
  Status ReadValue(uint32_t segment, uint64_t offset, uint32_t size, std::string* out);
  // As ReadValue, with scratch for File::Read (room for size bytes).
  Status ReadSpan(uint32_t segment, uint64_t offset, uint32_t size, char* scratch,
                  std::string_view* out);
  Status CurrentValue(const std::string& key, std::optional<std::string>* value);
  void MaybeAutoCompact();
  Status CompactSegment(uint32_t number);
  // The steps of CompactSegment: the live ops of the segment's records
  // copied, the copies finished and, once written, the index pointed at
  // them and the segment deleted.
  struct Compaction;  // a compaction being staged
  Status CopyLiveRecords(Compaction* c);
  Status CopyLiveRecord(const RecordView& rec, Compaction* c);
  Status NoteBlobRecord(const RecordView& rec, Compaction* c);
  void CopyStoredEvent(const OpView& op, uint64_t value_offset, Compaction* c);
  void CopyCurrentValue(const OpView& op, uint64_t value_offset, Compaction* c);
  void CopyTombstone(const OpView& op, Compaction* c);
  void FinishCopies(Compaction* c);
  void AddStreamMetas(Compaction* c);
  void PointIndexAtCopies(const Compaction& c, uint32_t segment, uint64_t base);
  Status DeleteCompacted(uint32_t number, Segment* seg);
  // The steps of Verify: the segment files one by one, the segments
  // together, the index against the log, the blobs.
  struct Verification;  // what Verify has found so far
  void VerifySegmentFiles(Verification* v);
  void VerifySegmentFile(uint32_t number, const Segment& seg, Verification* v);
  void VerifySegmentChain(Verification* v);
  void VerifySegmentEnds(Verification* v);
  void VerifyStreams(Verification* v);
  void VerifyRun(const std::string& name, const EventRun& r, const std::string& seqs,
                 Verification* v);
  void VerifyValues(Verification* v);
  void VerifyLocation(const std::string& what, uint32_t segment, uint64_t offset, uint32_t size,
                      Verification* v);
  void VerifyBlobs(Verification* v);
  std::string SegmentPath(uint32_t number) const;
  std::string BlobPath(const std::string& cid) const;
  Status PublishBlob(const std::string& cid, const std::string& bytes);
  void FlusherLoop();

  const Options options_;
  Env* const env_;
  const std::string dir_;
  std::unique_ptr<FileLock> lock_;

  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using NameMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

  NameMap<StreamState> streams_;
  NameMap<ValueLoc> kv_;
  std::unordered_set<std::string> blobs_;  // cids with a file in blobs/
  NameMap<BlobRecordLoc> blob_records_;    // cids the log records
  std::map<uint32_t, Segment> segments_;
  SegmentSet retired_;   // segments compaction deleted, per the retired records
  uint32_t active_ = 0;  // number of the segment being written; 0 = none yet
  StoreMarker marker_;   // as on disk (id empty: none yet, a store older than version 3)
  std::set<uint32_t> compact_candidates_;
  std::string write_buf_;
  std::unique_ptr<char[]> read_buf_;  // Read's scratch, kept from call to call
  size_t read_buf_size_ = 0;
  bool in_compaction_ = false;

  // Shared with the flusher thread.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<File> flush_file_;  // the active segment's file
  bool dirty_ = false;
  bool stop_ = false;
  Status sticky_error_;
  std::atomic<bool> has_sticky_error_{false};
  std::thread flusher_;

  mutable Stats stats_;
  std::atomic<uint64_t> syncs_{0};
};

// For a read-only store: Refresh, or, when the log can no longer be
// followed from where the store stands, open it afresh with the same
// options (a reader that fell behind a compaction). *store is replaced then.
Status RefreshStore(std::unique_ptr<Store>* store, bool* changed);

}  // namespace sx::store
