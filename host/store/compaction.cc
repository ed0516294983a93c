// Compaction and verification of a Store.
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

// Whether a record's body decodes: its ops, its retired ranges or its blob.
Status CheckRecordBody(const RecordView& rec) {
  switch (rec.type) {
    case kSegmentEndRecord:
    case kExtentRecord:
      return Status::OK();
    case kRetiredRecord: {
      std::vector<SegmentRange> ranges;
      return DecodeRetired(rec.body, &ranges) ? Status::OK()
                                              : Status::Corruption("malformed retired record");
    }
    case kBlobRecord: {
      uint64_t size;
      std::string_view cid;
      Sha256::Digest digest;
      return DecodeBlob(rec.body, &size, &cid) && ParseRawSha256Cid(cid, &digest)
                 ? Status::OK()
                 : Status::Corruption("malformed blob record");
    }
    default: {
      OpReader reader(rec.body);
      OpView op;
      while (reader.Next(&op)) {
      }
      return reader.status();
    }
  }
}

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

Status Store::Verify(const std::function<void(const std::string&)>& report) {
  size_t problems = 0;
  auto problem = [&](const std::string& what) {
    ++problems;
    report(what);
  };
  auto note = [&](const std::string& what) { report("note: " + what); };
  // 1. Every segment file: its size, every record's checksum and framing,
  // the bodies of its records.
  std::vector<SegmentFacts> facts;
  std::vector<SegmentScan> scans;
  for (const auto& [number, seg] : segments_) {
    std::string file = SegmentFileName(number);
    uint64_t size = 0;
    Status s = seg.file->Size(&size);
    SegmentScan scan;
    if (s.ok()) {
      s = ScanSegmentFile(
          seg.file.get(), size, number,
          [&](const RecordView& rec) -> Status {
            Status body = CheckRecordBody(rec);
            if (!body.ok()) {
              problem(file + " offset " + std::to_string(rec.offset) + ": " + body.message());
            }
            return Status::OK();
          },
          &scan);
    }
    if (!s.ok()) {
      problem(file + ": " + s.ToString());
      facts.push_back(SegmentFacts{number, 0, SegmentScan::End::kCorrupt, 0});
      scans.emplace_back();
      continue;
    }
    if (scan.end == SegmentScan::End::kCorrupt) {
      problem(file + " offset " + std::to_string(scan.bad_offset) + ": " + scan.reason);
    }
    if (retired_.Contains(number)) {
      note(file +
           " was retired by compaction but is still there (the compaction was cut "
           "short); the next compaction deletes it");
    }
    facts.push_back(SegmentFacts{number, scan.version, scan.end, scan.valid_end});
    scans.push_back(std::move(scan));
  }
  // 2. The segments together: none missing, only the newest unsealed, and
  // the newest the marker names still there.
  uint32_t newest = segments_.empty() ? 0 : segments_.rbegin()->first;
  if (marker_.newest_segment > newest) {
    problem(SegmentFileName(marker_.newest_segment) +
            ": the segment file is missing: the store marker " + kMarkerFileName +
            " says it was created");
  }
  for (const ChainProblem& p : CheckSegmentChain(facts, retired_)) {
    std::string file = SegmentFileName(p.segment);
    problem(p.file_missing ? file + ": " + p.what
                           : file + " offset " + std::to_string(p.offset) + ": " + p.what);
  }
  for (size_t i = 0; i < facts.size(); ++i) {
    bool interrupted = RollInterrupted(facts, i);
    if (i + 1 != facts.size() && !interrupted) continue;
    std::string file = SegmentFileName(facts[i].number);
    if (scans[i].end == SegmentScan::End::kTornTail) {
      report(file + " offset " + std::to_string(scans[i].valid_end) + ": torn tail: " +
             scans[i].reason + ", cut off when the store is next opened for writing");
    }
    if (interrupted) {
      note(file + " is not sealed: a crash came between creating " +
           SegmentFileName(facts[i + 1].number) +
           " and sealing it; it is sealed when the store is next opened for writing");
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
    for (const EventRun& r : st.events.runs()) {
      std::string seqs =
          what + " seqs " + std::to_string(r.first) + ".." + std::to_string(r.last());
      if (r.count == 0 || r.first <= prev || r.last() > st.hwm) {
        problem(seqs + ": out of order or above the hwm");
      }
      prev = r.last();
      auto it = segments_.find(r.segment);
      if (it == segments_.end() || r.begin >= r.end || r.end > it->second.end) {
        problem(seqs + ": location outside the log");
        continue;
      }
      Status s = ReadValue(r.segment, r.begin, r.end - r.begin, &buf);
      // Every event of the run is there (ScanRun says which is not).
      if (s.ok()) {
        s = ScanRun(buf, r.begin, name, r, 0,
                    [](uint64_t, std::string_view, uint64_t) { return true; });
      }
      if (!s.ok()) problem(seqs + ": " + s.ToString());
    }
  }
  for (const auto& [key, loc] : kv_) {
    check_loc("key \"" + EscapeBytes(key, 64) + "\"", loc.segment, loc.offset, loc.size);
  }
  // 3. Blobs: every recorded one there, and every file's content matches
  // its name (a file without a record is left by a put cut short, or comes
  // from a version-1 store: not a problem).
  for (const auto& [cid, rec] : blob_records_) {
    Status s = BlobGet(cid, &buf);
    if (!s.ok()) {
      problem("blob " + cid + ": " + s.ToString());
    } else if (buf.size() != rec.size) {
      problem("blob " + cid + ": " + std::to_string(buf.size()) + " bytes, but its record says " +
              std::to_string(rec.size));
    }
  }
  for (const std::string& cid : blobs_) {
    if (blob_records_.count(cid) > 0) continue;
    Status s = BlobGet(cid, &buf);
    if (!s.ok()) problem("blob " + cid + ": " + s.ToString());
  }
  if (problems > 0) return Status::Corruption(std::to_string(problems) + " problem(s) found");
  return Status::OK();
}

}  // namespace sx::store
