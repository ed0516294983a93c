// Readers beside a writer (docs/persist.md, "Readers and followers"): a
// store opened read-only follows the log a live writer appends to, reading
// the records committed since it last looked and following the writer's
// segment rolls.
#include <set>

#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

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

}  // namespace sx::store
