// Env: every request the store makes of the operating system goes through
// this interface, so tests can run the store on a memory filesystem
// (MemEnv), fail any call (FaultEnv) and cut the power (MemEnv::DropUnsynced).
//
// Env::Default() is the POSIX implementation; it is shared, never deleted,
// and safe to use from several threads. A File may be read from several
// threads at once (ReadAt is pread); writes to one File come from one thread,
// though Sync may run concurrently with them (the batch-mode flusher).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "host/store/status.h"

namespace sx::store {

class File {
 public:
  virtual ~File() = default;
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Reads up to n bytes at offset into *out (replacing its contents); fewer
  // only at the end of the file.
  virtual Status ReadAt(uint64_t offset, size_t n, std::string* out) = 0;
  // As ReadAt, without a buffer of its own: *result points at the bytes
  // read, in scratch (room for n bytes, kept by the caller from read to
  // read) or in memory the File holds (the POSIX Env maps files opened
  // read-only), valid while the File is open and until the next Read into
  // the same scratch. A File that overrides only ReadAt gets this through it.
  virtual Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) {
    std::string bytes;
    Status s = ReadAt(offset, n, &bytes);
    if (!s.ok()) return s;
    std::copy(bytes.begin(), bytes.end(), scratch);
    *result = std::string_view(scratch, bytes.size());
    return s;
  }
  // Writes all of data at offset (pwrite); the file grows if needed.
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // Writes all of data at the current end of the file.
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: the bytes written so far are durable when this returns OK.
  virtual Status Sync() = 0;
  virtual Status Size(uint64_t* size) = 0;
  virtual Status Truncate(uint64_t size) = 0;
  // Makes the file at least len bytes long. With zero_fill the space is
  // written with zeros, so later overwrites change no file metadata and a
  // Sync is a single data flush; otherwise it is reserved (fallocate).
  virtual Status Preallocate(uint64_t len, bool zero_fill) = 0;
};

// A held directory lock; releasing it (destruction) unlocks.
class FileLock {
 public:
  virtual ~FileLock() = default;
  // Checks that the lock file still is the file this lock holds; if it was
  // removed, puts it back. Locked if another process holds what is there.
  virtual Status Check() { return Status::OK(); }
};

enum class OpenMode {
  kReadOnly,     // must exist
  kReadWrite,    // must exist
  kCreate,       // read-write, created if missing
  kCreateTrunc,  // read-write, created or emptied
};

class Env {
 public:
  virtual ~Env() = default;

  static Env* Default();

  virtual Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  // Names (not paths) of the entries in dir, without "." and "..".
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  // Creates dir; OK if it already exists.
  virtual Status CreateDir(const std::string& dir) = 0;
  virtual bool DirExists(const std::string& dir) = 0;
  // fsync on the directory: creations, renames and deletions in it are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status FileSize(const std::string& path, uint64_t* size) = 0;
  // Takes an exclusive lock on the directory of path and on path (flock),
  // and writes this process's pid into path. Returns Locked, with the
  // message "store is locked by pid N", if another holder has it. Deleting
  // path does not release the lock: the directory stays locked.
  virtual Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) = 0;
};

// Reads a whole file.
Status ReadFileToString(Env* env, const std::string& path, std::string* out);

}  // namespace sx::store
