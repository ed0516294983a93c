// The Store's read path: events, kv values and blobs, read from the files
// where the index says they lie, and the stats.
#include <algorithm>
#include <memory>

#include "host/store/cid.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"
#include "host/store/store_internal.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

namespace {

// Reads of adjacent runs are merged into one pread when the gap between
// them is at most this, up to kMaxReadSpan bytes per pread: enough to make
// a syscall's cost small, and little enough that the bytes are still in
// the CPU's cache when the records are walked (a 4 MiB span read slower).
constexpr uint64_t kReadGapBytes = 4096;
constexpr uint64_t kMaxReadSpan = 1u << 20;

}  // namespace

Status Store::ReadValue(uint32_t segment, uint64_t offset, uint32_t size, std::string* out) {
  out->resize(size);
  std::string_view got;
  Status s = ReadSpan(segment, offset, size, out->data(), &got);
  if (got.data() == out->data()) {
    out->resize(got.size());
  } else {
    out->assign(got);  // the File's own memory
  }
  return s;
}

Status Store::ReadSpan(uint32_t segment, uint64_t offset, uint32_t size, char* scratch,
                       std::string_view* out) {
  *out = std::string_view();
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    return Status::Corruption("index points into missing segment " + SegmentFileName(segment));
  }
  Status s = it->second.file->Read(offset, size, scratch, out);
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
  std::string_view buf;
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
    // The buffer is kept from read to read and never cleared (only the
    // bytes read into it are looked at); one grown for a large event is
    // let go at the end.
    if (read_buf_size_ < end - start) {
      read_buf_size_ = end - start;
      read_buf_ = std::make_unique_for_overwrite<char[]>(read_buf_size_);
    }
    Status s =
        ReadSpan(head.segment, start, static_cast<uint32_t>(end - start), read_buf_.get(), &buf);
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
  if (read_buf_size_ > kMaxReadSpan) {
    read_buf_.reset();
    read_buf_size_ = 0;
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

// ---------------------------------------------------------------- blobs

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
