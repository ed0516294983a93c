#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "host/store/env.h"

namespace sx::store {
namespace {

Status PosixError(const std::string& context, int err) {
  std::string msg = context + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(msg);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

class PosixFile final : public File {
 public:
  // A file opened read-only is read through a mapping of it (Read): no
  // copy out of the page cache, which was a fifth of an export's time.
  PosixFile(std::string path, int fd, bool read_only)
      : path_(std::move(path)), fd_(fd), read_only_(read_only) {}
  ~PosixFile() override {
    if (map_ != nullptr) ::munmap(map_, map_size_);
    ::close(fd_);
  }

  Status ReadAt(uint64_t offset, size_t n, std::string* out) override {
    out->resize(n);
    size_t done = 0;
    Status s = PRead(offset, n, out->data(), &done);
    out->resize(done);
    return s;
  }

  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) override {
    if (read_only_) {
      std::call_once(mapped_, [this] { Map(); });
      if (ReadMapped(offset, n, result)) return Status::OK();
    }
    size_t done = 0;
    Status s = PRead(offset, n, scratch, &done);
    *result = std::string_view(scratch, done);
    return s;
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t r =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("write " + path_, errno);
      }
      done += static_cast<size_t>(r);
    }
    return Status::OK();
  }

  Status Append(std::string_view data) override {
    uint64_t size = 0;
    Status s = Size(&size);
    if (!s.ok()) return s;
    return WriteAt(size, data);
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync " + path_, errno);
    return Status::OK();
  }

  Status Size(uint64_t* size) override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError("stat " + path_, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return PosixError("truncate " + path_, errno);
    }
    return Status::OK();
  }

  Status Preallocate(uint64_t len, bool zero_fill) override {
    uint64_t size = 0;
    Status s = Size(&size);
    if (!s.ok() || size >= len) return s;
    int rc = ::posix_fallocate(fd_, static_cast<off_t>(size), static_cast<off_t>(len - size));
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) return PosixError("fallocate " + path_, rc);
    if (!zero_fill) return rc == 0 ? Status::OK() : Truncate(len);
    // Writing the zeros turns reserved ("unwritten") extents into written
    // ones, so a later fdatasync has no extent conversion to commit.
    const std::string zeros(1 << 20, '\0');
    for (uint64_t off = size; off < len; off += zeros.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), len - off));
      s = WriteAt(off, std::string_view(zeros.data(), n));
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

 private:
  Status PRead(uint64_t offset, size_t n, char* to, size_t* done) {
    *done = 0;
    while (*done < n) {
      ssize_t r = ::pread(fd_, to + *done, n - *done, static_cast<off_t>(offset + *done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("read " + path_, errno);
      }
      if (r == 0) break;
      *done += static_cast<size_t>(r);
    }
    return Status::OK();
  }

  // Maps the file as long as it is now; a failed map leaves every read to
  // pread. Bytes the file gains later are read with pread.
  void Map() {
    struct stat st;
    if (::fstat(fd_, &st) != 0 || st.st_size <= 0) return;
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) return;
    ::madvise(p, static_cast<size_t>(st.st_size), MADV_RANDOM);  // as the fd (OpenFile)
    map_ = static_cast<char*>(p);
    map_size_ = static_cast<uint64_t>(st.st_size);
  }

  // A read that lies in the mapping, bounded by the file's size now as a
  // pread is: a file cut shorter since it was mapped gives a short read,
  // not a fault on a page past its end.
  bool ReadMapped(uint64_t offset, size_t n, std::string_view* result) {
    struct stat st;
    if (map_ == nullptr || offset + n > map_size_ || ::fstat(fd_, &st) != 0) return false;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    *result = offset >= size
                  ? std::string_view()
                  : std::string_view(map_ + offset, std::min<uint64_t>(n, size - offset));
    return true;
  }

  std::string path_;
  int fd_;
  bool read_only_;
  std::once_flag mapped_;
  char* map_ = nullptr;
  uint64_t map_size_ = 0;
};

// The pid of the process named in a LOCK file, or "unknown".
std::string LockHolder(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
  return holder.empty() ? "unknown" : holder;
}

// Opens path (created if missing), flocks it and writes this process's pid
// into it. Locked if another process holds it.
Status LockAndStamp(const std::string& path, int* out) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError("open " + path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder = LockHolder(fd);
    ::close(fd);
    if (err != EWOULDBLOCK) return PosixError("flock " + path, err);
    return Status::Locked("store is locked by pid " + holder);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return PosixError("write " + path, err);
  }
  *out = fd;
  return Status::OK();
}

// Two flocks: on the store directory itself, which no one can unlink while
// it holds files, so deleting LOCK never lets a second writer in; and on
// LOCK, which names the holder's pid (and keeps out older binaries, which
// lock only LOCK).
class PosixLock final : public FileLock {
 public:
  PosixLock(std::string path, int dir_fd, int fd)
      : path_(std::move(path)), dir_fd_(dir_fd), fd_(fd) {}
  ~PosixLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    ::flock(dir_fd_, LOCK_UN);
    ::close(dir_fd_);
  }

  Status Check() override {
    struct stat held, named;
    if (::fstat(fd_, &held) != 0) return PosixError("stat " + path_, errno);
    if (::stat(path_.c_str(), &named) == 0 && named.st_dev == held.st_dev &&
        named.st_ino == held.st_ino) {
      return Status::OK();
    }
    // Removed or replaced: the directory lock is still ours, so put a LOCK
    // naming this process back, unless some other process (an older binary)
    // holds the file that is there now.
    int fd;
    Status s = LockAndStamp(path_, &fd);
    if (!s.ok()) {
      return s.WithContext("the store's LOCK file was replaced while this process held the store");
    }
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = fd;
    return Status::OK();
  }

 private:
  std::string path_;
  int dir_fd_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kReadOnly:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateTrunc:
        flags |= O_RDWR | O_CREAT | O_TRUNC;
        break;
    }
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return PosixError("open " + path, errno);
    // No readahead on files opened to read: a reader beside a live writer
    // reads the segment's tail again and again, and the kernel's readahead
    // past it would fill and lock the very pages the writer appends to next
    // (it slowed a fast writer five times). The store's own reads are either
    // of one record or of large windows, which need no readahead.
    if (mode == OpenMode::kReadOnly) ::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    *out = std::make_unique<PosixFile>(path, fd, mode == OpenMode::kReadOnly);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename " + from, errno);
    return Status::OK();
  }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink " + path, errno);
    return Status::OK();
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("opendir " + dir, errno);
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names->emplace_back(e->d_name);
    }
    ::closedir(d);
    return Status::OK();
  }

  Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return PosixError("mkdir " + dir, errno);
    }
    return Status::OK();
  }

  bool DirExists(const std::string& dir) override {
    struct stat st;
    return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open dir " + dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError("fsync dir " + dir, err);
    return Status::OK();
  }

  Status FileSize(const std::string& path, uint64_t* size) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat " + path, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return PosixError("open dir " + dir, errno);
    if (::flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(dir_fd);
      if (err != EWOULDBLOCK) return PosixError("flock " + dir, err);
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        return Status::Locked(
            "store is locked by another process (its LOCK file was removed, "
            "but the process that holds the store still runs)");
      }
      std::string holder = LockHolder(fd);
      ::close(fd);
      return Status::Locked("store is locked by pid " + holder);
    }
    int fd;
    Status s = LockAndStamp(path, &fd);
    if (!s.ok()) {
      ::close(dir_fd);
      return s;
    }
    *lock = std::make_unique<PosixLock>(path, dir_fd, fd);
    return Status::OK();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv;
  return env;
}

Status ReadFileToString(Env* env, const std::string& path, std::string* out) {
  std::unique_ptr<File> f;
  Status s = env->OpenFile(path, OpenMode::kReadOnly, &f);
  if (!s.ok()) return s;
  uint64_t size;
  s = f->Size(&size);
  if (!s.ok()) return s;
  return f->ReadAt(0, static_cast<size_t>(size), out);
}

}  // namespace sx::store
