// MemEnv: an in-memory filesystem for tests, with power-cut simulation.
//
// Each file remembers which of its contents are durable: File::Sync makes
// the file's current bytes durable; SyncDir(dir) makes the creations, renames
// and deletions of entries in dir durable. DropUnsynced() is a power cut:
// every file goes back to its durable bytes and the namespace to its durable
// entries. Directories themselves are durable when created.
//
// Thread-safe (one mutex); locks taken by LockFile are released when the
// FileLock is destroyed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "host/store/env.h"

namespace sx::store {

class MemEnv final : public Env {
 public:
  MemEnv();
  ~MemEnv() override;

  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override;
  Status CreateDir(const std::string& dir) override;
  bool DirExists(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  Status FileSize(const std::string& path, uint64_t* size) override;
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override;

  // The power cut: forget everything not yet durable.
  void DropUnsynced();

  // Test helpers that bypass the durability model (changes are durable).
  Status GetContents(const std::string& path, std::string* data);
  Status SetContents(const std::string& path, const std::string& data);
  uint64_t sync_count() const;

  struct Inode;

 private:
  friend class MemFile;
  friend class MemLock;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Inode>> live_;
  std::map<std::string, std::shared_ptr<Inode>> durable_;
  std::set<std::string> dirs_;
  std::set<std::string> locked_;
  uint64_t syncs_ = 0;
};

}  // namespace sx::store
