// store_backend.cc — the embedded store behind the Backend interface.
#include "host/backend/store_backend.h"

#include <chrono>
#include <thread>
#include <utility>

#include "host/store/log_record.h"

namespace sx::backend {

StoreBackend::StoreBackend(std::unique_ptr<store::Store> store) : store_(std::move(store)) {}

StoreBackend::~StoreBackend() = default;

Status StoreBackend::Open(const store::Options& options, const std::string& dir,
                          std::unique_ptr<Backend>* out) {
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(options, dir, &st);
  if (!s.ok()) return s;
  *out = std::make_unique<StoreBackend>(std::move(st));
  return Status::OK();
}

// A lone append (the commonest request) takes the store's own path for it,
// which skips the group's validator; the checks and answers are the same.
bool StoreBackend::CommitLoneAppend(std::span<const WriteBatch* const> batches,
                                    std::vector<Status>* results) {
  if (batches.size() != 1 || batches[0]->size() != 1) return false;
  const WriteBatch::Op& op = batches[0]->ops()[0];
  if (op.kind != WriteBatch::OpKind::kAppend && op.kind != WriteBatch::OpKind::kAppendExpect) {
    return false;
  }
  results->resize(1);
  uint64_t hwm = store_->LastSeq(op.name);
  if (op.kind == WriteBatch::OpKind::kAppendExpect && hwm != op.expected_seq) {
    std::string what = "append to stream \"";
    what += store::EscapeBytes(op.name, 64);
    what += "\": expected last seq " + std::to_string(op.expected_seq) + " but it is " +
            std::to_string(hwm);
    (*results)[0] = Status::Conflict(what, op.expected_seq, hwm);
  } else {
    (*results)[0] = store_->Append(op.name, op.seq, *op.value);
  }
  if ((*results)[0].ok()) ++position_;
  return true;
}

void StoreBackend::CommitGroup(std::span<const WriteBatch* const> batches,
                               std::vector<Status>* results) {
  if (CommitLoneAppend(batches, results)) return;
  store_->CommitGroup(batches, results);
  for (size_t i = 0; i < batches.size() && i < results->size(); ++i) {
    if ((*results)[i].ok() && !batches[i]->empty()) {
      ++position_;
      break;
    }
  }
}

Status StoreBackend::Read(const std::string& stream, uint64_t from_seq, size_t limit,
                          std::vector<Event>* out) {
  std::vector<store::Event> events;
  Status s = store_->Read(stream, from_seq, limit, &events);
  out->clear();
  out->reserve(events.size());
  for (store::Event& e : events) out->push_back(Event{e.seq, std::move(e.payload)});
  return s;
}

Status StoreBackend::LastSeq(const std::string& stream, uint64_t* seq) {
  *seq = store_->LastSeq(stream);
  return Status::OK();
}

Status StoreBackend::FirstSeq(const std::string& stream, uint64_t* seq) {
  *seq = store_->FirstSeq(stream);
  return Status::OK();
}

Status StoreBackend::Streams(std::vector<std::string>* out) {
  *out = store_->Streams();
  return Status::OK();
}

Status StoreBackend::KvGet(const std::string& key, std::string* value) {
  return store_->KvGet(key, value);
}

Status StoreBackend::KvHas(const std::string& key, bool* has) {
  *has = store_->KvHas(key);
  return Status::OK();
}

Status StoreBackend::KvKeys(std::vector<std::string>* out) {
  *out = store_->KvKeys();
  return Status::OK();
}

Status StoreBackend::BlobPut(const std::string& bytes, std::string* cid) {
  Status s = store_->BlobPut(bytes, cid);
  if (s.ok()) ++position_;
  return s;
}

Status StoreBackend::BlobGet(const std::string& cid, std::string* bytes) {
  return store_->BlobGet(cid, bytes);
}

Status StoreBackend::BlobHas(const std::string& cid, bool* has) {
  *has = store_->BlobHas(cid);
  return Status::OK();
}

Status StoreBackend::Sync() { return store_->Sync(); }

Status StoreBackend::Compact() { return store_->Compact(); }

Status StoreBackend::GetStats(Stats* out) {
  store::Store::Stats s = store_->GetStats();
  *out = {{"streams", s.streams},
          {"events", s.events_live},
          {"kv-keys", s.kv_keys},
          {"blobs", s.blobs},
          {"segments", s.segments},
          {"bytes-on-disk", s.bytes_on_disk},
          {"bytes-used", s.bytes_used},
          {"bytes-live", s.bytes_live},
          {"appends", s.appends},
          {"commits", s.commits},
          {"syncs", s.syncs},
          {"records-read", s.records_read},
          {"compactions", s.compactions},
          {"index-bytes", s.index_bytes},
          {"recovered-torn-bytes", s.recovered_torn_bytes}};
  return Status::OK();
}

Status StoreBackend::CommitPosition(uint64_t* position) {
  *position = store_->options().read_only ? store_->LogPosition() : position_.load();
  return Status::OK();
}

Status StoreBackend::CatchUp() {
  if (!store_->options().read_only) return Status::OK();
  bool changed;
  return store::RefreshStore(&store_, &changed);
}

Status StoreBackend::WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now())
        .count();
  };
  if (!store_->options().read_only) {
    constexpr auto kStep = std::chrono::milliseconds(5);
    while (position_ <= seen && left() > 0) std::this_thread::sleep_for(kStep);
    *position = position_.load();
    return Status::OK();
  }
  if (!watcher_) watcher_ = std::make_unique<store::LogWatcher>(store_->dir());
  while (true) {
    // Armed before the look: a commit landing after it still wakes the wait.
    watcher_->Arm(store_->ActiveSegmentPath());
    Status s = CatchUp();
    if (!s.ok()) return s;
    *position = store_->LogPosition();
    int64_t ms = left();
    if (*position > seen || ms <= 0) return Status::OK();
    watcher_->Wait(static_cast<int>(ms));
  }
}

}  // namespace sx::backend
