// store_backend.h — the embedded segmented store (host/store/) as a Backend.
//
// A thin adapter: every method is the store's own, with its answers turned
// into the Backend's shapes (stats as named counters, the commit position).
// The store's guarantees and threading rules are the Backend's (backend.h).
//
// Commit position. A writable store counts the commits it made that
// changed something (a group with an accepted, non-empty batch, or a new
// blob); the count starts at 0 when the store is opened. A writer holds the
// lock, so no other process commits while it writes, and WaitForCommit
// polls the count every 5 ms until it has passed `seen` or the timeout has
// gone by.
//
// A read-only store beside another process's writer (docs/persist.md,
// "Readers and followers") takes the log's end as its position
// (Store::LogPosition), which rises with every commit of the writer.
// CatchUp reads the writer's new records (store::RefreshStore, which opens
// the store afresh when compaction left it behind). WaitForCommit arms a
// LogWatcher on the active segment, catches up, and sleeps on inotify until
// the writer writes, so it wakes within milliseconds of a commit without
// polling the files.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/backend/backend.h"
#include "host/store/log_watch.h"
#include "host/store/store.h"

namespace sx::backend {

class StoreBackend final : public Backend {
 public:
  explicit StoreBackend(std::unique_ptr<store::Store> store);
  ~StoreBackend() override;

  // Opens the store at dir with options and wraps it.
  static Status Open(const store::Options& options, const std::string& dir,
                     std::unique_ptr<Backend>* out);

  const char* kind() const override { return "store"; }

  void CommitGroup(std::span<const WriteBatch* const> batches,
                   std::vector<Status>* results) override;

  Status Read(const std::string& stream, uint64_t from_seq, size_t limit,
              std::vector<Event>* out) override;
  Status LastSeq(const std::string& stream, uint64_t* seq) override;
  Status FirstSeq(const std::string& stream, uint64_t* seq) override;
  Status Streams(std::vector<std::string>* out) override;

  Status KvGet(const std::string& key, std::string* value) override;
  Status KvHas(const std::string& key, bool* has) override;
  Status KvKeys(std::vector<std::string>* out) override;

  Status BlobPut(const std::string& bytes, std::string* cid) override;
  Status BlobGet(const std::string& cid, std::string* bytes) override;
  Status BlobHas(const std::string& cid, bool* has) override;

  Status Sync() override;
  Status Compact() override;
  Status GetStats(Stats* out) override;

  Status CommitPosition(uint64_t* position) override;
  Status WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) override;
  bool SeesOtherWriters() const override { return store_->options().read_only; }
  Status CatchUp() override;

  store::Store* store() { return store_.get(); }

 private:
  bool CommitLoneAppend(std::span<const WriteBatch* const> batches, std::vector<Status>* results);

  std::unique_ptr<store::Store> store_;
  std::atomic<uint64_t> position_{0};
  std::unique_ptr<store::LogWatcher> watcher_;  // a reader's, made on its first wait
};

}  // namespace sx::backend
