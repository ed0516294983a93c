// Verification of a Store: Verify checks every segment file record by
// record, how the segments fit together, the index against the log, and
// the blobs, reporting each problem it meets.
#include "host/store/cid.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

namespace {

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

// What Verify has found so far: the problems, counted, and the scans of the
// segment files, which the checks of the segments together use.
struct Store::Verification {
  explicit Verification(const std::function<void(const std::string&)>& report) : report(report) {}

  void Problem(const std::string& what) {
    ++problems;
    report(what);
  }
  void Note(const std::string& what) { report("note: " + what); }

  const std::function<void(const std::string&)>& report;
  size_t problems = 0;
  std::vector<SegmentFacts> facts;
  std::vector<SegmentScan> scans;
  std::string buf;  // what was read last
};

Status Store::Verify(const std::function<void(const std::string&)>& report) {
  Verification v(report);
  VerifySegmentFiles(&v);
  VerifySegmentChain(&v);
  VerifySegmentEnds(&v);
  VerifyStreams(&v);
  VerifyValues(&v);
  VerifyBlobs(&v);
  if (v.problems > 0) return Status::Corruption(std::to_string(v.problems) + " problem(s) found");
  return Status::OK();
}

// Every segment file: its size, every record's checksum and framing, the
// bodies of its records.
void Store::VerifySegmentFiles(Verification* v) {
  for (const auto& [number, seg] : segments_) VerifySegmentFile(number, seg, v);
}

void Store::VerifySegmentFile(uint32_t number, const Segment& seg, Verification* v) {
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
            v->Problem(file + " offset " + std::to_string(rec.offset) + ": " + body.message());
          }
          return Status::OK();
        },
        &scan);
  }
  if (!s.ok()) {
    v->Problem(file + ": " + s.ToString());
    v->facts.push_back(SegmentFacts{number, 0, SegmentScan::End::kCorrupt, 0});
    v->scans.emplace_back();
    return;
  }
  if (scan.end == SegmentScan::End::kCorrupt) {
    v->Problem(file + " offset " + std::to_string(scan.bad_offset) + ": " + scan.reason);
  }
  if (retired_.Contains(number)) {
    v->Note(file +
            " was retired by compaction but is still there (the compaction was cut "
            "short); the next compaction deletes it");
  }
  v->facts.push_back(SegmentFacts{number, scan.version, scan.end, scan.valid_end});
  v->scans.push_back(std::move(scan));
}

// The segments together: none missing, only the newest unsealed, and the
// newest the marker names still there.
void Store::VerifySegmentChain(Verification* v) {
  uint32_t newest = segments_.empty() ? 0 : segments_.rbegin()->first;
  if (marker_.newest_segment > newest) {
    v->Problem(SegmentFileName(marker_.newest_segment) +
               ": the segment file is missing: the store marker " + kMarkerFileName +
               " says it was created");
  }
  for (const ChainProblem& p : CheckSegmentChain(v->facts, retired_)) {
    std::string file = SegmentFileName(p.segment);
    v->Problem(p.file_missing ? file + ": " + p.what
                              : file + " offset " + std::to_string(p.offset) + ": " + p.what);
  }
}

// How the newest segments end: a torn tail, or a roll a crash interrupted,
// which opening the store for writing repairs.
void Store::VerifySegmentEnds(Verification* v) {
  const std::vector<SegmentFacts>& facts = v->facts;
  const std::vector<SegmentScan>& scans = v->scans;
  for (size_t i = 0; i < facts.size(); ++i) {
    bool interrupted = RollInterrupted(facts, i);
    if (i + 1 != facts.size() && !interrupted) continue;
    std::string file = SegmentFileName(facts[i].number);
    if (scans[i].end == SegmentScan::End::kTornTail) {
      v->report(file + " offset " + std::to_string(scans[i].valid_end) + ": torn tail: " +
                scans[i].reason + ", cut off when the store is next opened for writing");
    }
    if (interrupted) {
      v->Note(file + " is not sealed: a crash came between creating " +
              SegmentFileName(facts[i + 1].number) +
              " and sealing it; it is sealed when the store is next opened for writing");
    }
  }
}

// The index of each stream: seqs rising and within (truncated, hwm], every
// run inside a segment's records and readable.
void Store::VerifyStreams(Verification* v) {
  for (const auto& [name, st] : streams_) {
    std::string what = "stream \"" + EscapeBytes(name, 64) + "\"";
    uint64_t prev = st.truncated;
    if (st.truncated > st.hwm) v->Problem(what + ": truncated beyond its hwm");
    for (const EventRun& r : st.events.runs()) {
      std::string seqs =
          what + " seqs " + std::to_string(r.first) + ".." + std::to_string(r.last());
      if (r.count == 0 || r.first <= prev || r.last() > st.hwm) {
        v->Problem(seqs + ": out of order or above the hwm");
      }
      prev = r.last();
      VerifyRun(name, r, seqs, v);
    }
  }
}

void Store::VerifyRun(const std::string& name, const EventRun& r, const std::string& seqs,
                      Verification* v) {
  auto it = segments_.find(r.segment);
  if (it == segments_.end() || r.begin >= r.end || r.end > it->second.end) {
    v->Problem(seqs + ": location outside the log");
    return;
  }
  Status s = ReadValue(r.segment, r.begin, r.end - r.begin, &v->buf);
  // Every event of the run is there (ScanRun says which is not).
  if (s.ok()) {
    s = ScanRun(v->buf, r.begin, name, r, 0,
                [](uint64_t, std::string_view, uint64_t) { return true; });
  }
  if (!s.ok()) v->Problem(seqs + ": " + s.ToString());
}

// The index of the kv: every value inside a segment's records and readable.
void Store::VerifyValues(Verification* v) {
  for (const auto& [key, loc] : kv_) {
    VerifyLocation("key \"" + EscapeBytes(key, 64) + "\"", loc.segment, loc.offset, loc.size, v);
  }
}

void Store::VerifyLocation(const std::string& what, uint32_t segment, uint64_t offset,
                           uint32_t size, Verification* v) {
  auto it = segments_.find(segment);
  if (it == segments_.end() || offset + size > it->second.end) {
    v->Problem(what + ": location outside the log");
    return;
  }
  Status s = ReadValue(segment, offset, size, &v->buf);
  if (!s.ok()) v->Problem(what + ": " + s.ToString());
}

// Blobs: every recorded one there, and every file's content matches its
// name (a file without a record is left by a put cut short, or comes from
// a version-1 store: not a problem).
void Store::VerifyBlobs(Verification* v) {
  for (const auto& [cid, rec] : blob_records_) {
    Status s = BlobGet(cid, &v->buf);
    if (!s.ok()) {
      v->Problem("blob " + cid + ": " + s.ToString());
    } else if (v->buf.size() != rec.size) {
      v->Problem("blob " + cid + ": " + std::to_string(v->buf.size()) +
                 " bytes, but its record says " + std::to_string(rec.size));
    }
  }
  for (const std::string& cid : blobs_) {
    if (blob_records_.count(cid) > 0) continue;
    Status s = BlobGet(cid, &v->buf);
    if (!s.ok()) v->Problem("blob " + cid + ": " + s.ToString());
  }
}

}  // namespace sx::store
