// Helpers shared by the store tests.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "host/store/coding.h"
#include "host/store/crc32c.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/mem_env.h"
#include "host/store/store.h"

namespace sx::store::testing {

inline Options MemOptions(Env* env, SyncMode sync = SyncMode::kAlways) {
  Options o;
  o.env = env;
  o.sync = sync;
  o.segment_bytes = 4096;
  return o;
}

inline std::unique_ptr<Store> OpenOrDie(const Options& options, const std::string& dir) {
  std::unique_ptr<Store> store;
  Status s = Store::Open(options, dir, &store);
  if (!s.ok()) throw std::runtime_error("open failed: " + s.ToString());
  return store;
}

// A segment header as format version 1 wrote it: the field at offset 24
// was reserved (0), so it says nothing about the file's size.
inline std::string VersionOneHeader(uint32_t number) {
  std::string h(log::kSegmentMagic, sizeof(log::kSegmentMagic));
  PutFixed32(&h, 1);
  PutFixed32(&h, 0);
  PutFixed64(&h, number);
  PutFixed32(&h, 0);
  PutFixed32(&h, crc32c::Value(h.data(), h.size()));
  return h;
}

// How one segment file of a store on env looks now.
inline SegmentScan ScanFile(MemEnv* env, const std::string& dir, uint32_t number) {
  std::string image;
  SegmentScan scan;
  if (!env->GetContents(dir + "/" + SegmentFileName(number), &image).ok()) {
    scan.end = SegmentScan::End::kCorrupt;
    scan.reason = "no such file";
    return scan;
  }
  ScanSegment(
      image, number, [](const RecordView&) { return Status::OK(); }, &scan)
      .IgnoreError();
  return scan;
}

// The cids that blob records name, and the segments that retired records
// name, across every segment file of a store on env.
struct LoggedFacts {
  std::set<std::string> blobs;
  std::set<uint32_t> retired;
};
inline LoggedFacts ReadLoggedFacts(MemEnv* env, const std::string& dir) {
  LoggedFacts facts;
  std::vector<std::string> names;
  if (!env->ListDir(dir, &names).ok()) return facts;
  for (const std::string& name : names) {
    uint32_t number;
    std::string image;
    if (!ParseSegmentFileName(name, &number) || !env->GetContents(dir + "/" + name, &image).ok()) {
      continue;
    }
    SegmentScan scan;
    ScanSegment(
        image, number,
        [&](const RecordView& rec) {
          uint64_t size;
          std::string_view cid;
          std::vector<SegmentRange> ranges;
          if (rec.type == log::kBlobRecord && DecodeBlob(rec.body, &size, &cid)) {
            facts.blobs.insert(std::string(cid));
          }
          if (rec.type == log::kRetiredRecord && DecodeRetired(rec.body, &ranges)) {
            for (const SegmentRange& r : ranges) {
              for (uint64_t n = r.first; n <= r.last; ++n)
                facts.retired.insert(static_cast<uint32_t>(n));
            }
          }
          return Status::OK();
        },
        &scan)
        .IgnoreError();
  }
  return facts;
}

}  // namespace sx::store::testing
