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
