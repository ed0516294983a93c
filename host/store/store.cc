// The Store's shared parts: construction and a clean close, file paths, the
// live-byte accounting that drives compaction, and the helpers of
// store_internal.h. The rest of the Store lives by concern in
//   store_open.cc    opening a store and recovering its state from the log
//   store_write.cc   appends, commits and group commits, segment rolls, syncs
//   store_read.cc    reads of events, values and blobs; stats
//   store_follow.cc  readers beside a writer (Refresh)
//   compaction.cc    compaction
//   store_verify.cc  verification
#include "host/store/store.h"

#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store_internal.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

uint64_t RunCost(size_t name_size, const EventRun& r) {
  return uint64_t{r.count} * OpCost(name_size, 0) + r.bytes;
}

std::string Quote(std::string_view name) {
  std::string out = "\"";
  out += EscapeBytes(name, 64);
  out += '"';
  return out;
}

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

}  // namespace sx::store
