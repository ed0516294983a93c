// memory_backend.h — an engine that keeps everything in memory: the
// Backend's semantics (backend.h) with no files, for tests and for hosts
// that want a scratch store. Nothing survives the object.
//
// It keeps the rules of the embedded store to the letter: the same limits
// on names (1 MiB) and values (256 MiB), the same conflict numbers (an
// append: expected hwm + 1, actual hwm; AppendExpect: expected its
// expected last seq, actual hwm; KvCas: 0 and 0), truncation clamped to the
// hwm, blobs named by store::CidForBytes. Its stats are "streams",
// "events", "kv-keys", "blobs", "appends" and "commits".
//
// Commit position: the number of commits that changed something (and blob
// puts). WaitForCommit waits on a condition variable, so a commit made by
// another thread while this one waits (each taking its turn with the
// backend's mutex) ends the wait at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "host/backend/backend.h"

namespace sx::backend {

class MemoryBackend final : public Backend {
 public:
  MemoryBackend();
  ~MemoryBackend() override;

  const char* kind() const override { return "memory"; }

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

 private:
  struct Stream {
    uint64_t hwm = 0;
    std::map<uint64_t, std::string> events;  // by seq
  };

  // Checks batch against the state now and, if every op passes, applies it.
  Status CommitOne(const WriteBatch& batch);
  void Bump();  // the position moved; wakes waiters (mu_ held)

  std::mutex mu_;
  std::condition_variable moved_;
  std::map<std::string, Stream> streams_;  // std::string orders bytewise
  std::map<std::string, std::string> kv_;
  std::map<std::string, std::string> blobs_;  // by cid
  uint64_t position_ = 0;
  uint64_t appends_ = 0;
  uint64_t commits_ = 0;
};

}  // namespace sx::backend
