// FaultEnv: wraps another Env and makes one chosen call fail, to test that
// the store reports the failure, stays consistent and recovers on reopen.
//
// Calls are counted when they could change the filesystem: file writes,
// syncs, truncation, preallocation, opening for write, rename, delete and
// directory sync. FailAt(n, kind) arms a fault for the first call of the
// kind's class at or after the n-th counted call from now:
//   kIOError    any counted call fails with EIO (IOError)
//   kNoSpace    a write or preallocation fails with ENOSPC, writing nothing
//   kShortWrite a write stores only the first half of its bytes, then IOError
//   kSyncFail   a file or directory sync fails (IOError); nothing is synced
// With sticky, every later call of that class fails too (a dead disk).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "host/store/env.h"

namespace sx::store {

enum class FaultKind { kIOError, kNoSpace, kShortWrite, kSyncFail };

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env* base) : base_(base) {}

  void FailAt(uint64_t n, FaultKind kind, bool sticky = false);
  void Disarm();
  uint64_t calls() const { return calls_; }
  bool fired() const { return fired_; }

  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    return base_->ListDir(dir, names);
  }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }
  bool DirExists(const std::string& dir) override { return base_->DirExists(dir); }
  Status SyncDir(const std::string& dir) override;
  Status FileSize(const std::string& path, uint64_t* size) override {
    return base_->FileSize(path, size);
  }
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return base_->LockFile(path, lock);
  }

  enum class CallClass { kWrite, kSync, kOther };
  // Counts one call; returns the fault to inject into it, if any.
  bool Inject(CallClass cls, FaultKind* kind);

 private:
  Env* base_;
  std::mutex mu_;
  std::atomic<uint64_t> calls_{0};
  uint64_t fail_at_ = 0;  // 0 = disarmed
  FaultKind kind_ = FaultKind::kIOError;
  bool sticky_ = false;
  std::atomic<bool> fired_{false};
};

}  // namespace sx::store
