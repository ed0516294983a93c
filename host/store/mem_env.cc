#include "host/store/mem_env.h"

#include <unistd.h>

#include <algorithm>

namespace sx::store {

struct MemEnv::Inode {
  std::string data;
  std::string synced;
};

namespace {

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Normalize(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

class MemFile final : public File {
 public:
  MemFile(MemEnv* env, std::shared_ptr<MemEnv::Inode> inode, bool writable)
      : env_(env), inode_(std::move(inode)), writable_(writable) {}

  Status ReadAt(uint64_t offset, size_t n, std::string* out) override {
    std::lock_guard<std::mutex> l(env_->mu_);
    const std::string& d = inode_->data;
    if (offset >= d.size()) {
      out->clear();
    } else {
      out->assign(d, offset, std::min<uint64_t>(n, d.size() - offset));
    }
    return Status::OK();
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    if (!writable_) return Status::IOError("file opened read-only");
    std::lock_guard<std::mutex> l(env_->mu_);
    std::string& d = inode_->data;
    if (d.size() < offset + data.size()) d.resize(offset + data.size(), '\0');
    d.replace(offset, data.size(), data);
    return Status::OK();
  }

  Status Append(std::string_view data) override {
    if (!writable_) return Status::IOError("file opened read-only");
    std::lock_guard<std::mutex> l(env_->mu_);
    inode_->data.append(data);
    return Status::OK();
  }

  Status Sync() override {
    std::lock_guard<std::mutex> l(env_->mu_);
    inode_->synced = inode_->data;
    ++env_->syncs_;
    return Status::OK();
  }

  Status Size(uint64_t* size) override {
    std::lock_guard<std::mutex> l(env_->mu_);
    *size = inode_->data.size();
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (!writable_) return Status::IOError("file opened read-only");
    std::lock_guard<std::mutex> l(env_->mu_);
    inode_->data.resize(size, '\0');
    return Status::OK();
  }

  Status Preallocate(uint64_t len, bool /*zero_fill*/) override {
    if (!writable_) return Status::IOError("file opened read-only");
    std::lock_guard<std::mutex> l(env_->mu_);
    if (inode_->data.size() < len) inode_->data.resize(len, '\0');
    return Status::OK();
  }

 private:
  MemEnv* env_;
  std::shared_ptr<MemEnv::Inode> inode_;
  bool writable_;
};

class MemLock final : public FileLock {
 public:
  MemLock(MemEnv* env, std::string path) : env_(env), path_(std::move(path)) {}
  ~MemLock() override {
    std::lock_guard<std::mutex> l(env_->mu_);
    env_->locked_.erase(path_);
  }

 private:
  MemEnv* env_;
  std::string path_;
};

MemEnv::MemEnv() {
  dirs_.insert(".");
  dirs_.insert("/");
}
MemEnv::~MemEnv() = default;

Status MemEnv::OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) {
  std::lock_guard<std::mutex> l(mu_);
  if (dirs_.count(Parent(path)) == 0)
    return Status::NotFound("open " + path + ": no such directory");
  auto it = live_.find(path);
  if (it == live_.end()) {
    if (mode == OpenMode::kReadOnly || mode == OpenMode::kReadWrite) {
      return Status::NotFound("open " + path + ": no such file");
    }
    it = live_.emplace(path, std::make_shared<Inode>()).first;
  } else if (mode == OpenMode::kCreateTrunc) {
    it->second->data.clear();
  }
  *out = std::make_unique<MemFile>(this, it->second, mode != OpenMode::kReadOnly);
  return Status::OK();
}

Status MemEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = live_.find(from);
  if (it == live_.end()) return Status::NotFound("rename " + from + ": no such file");
  auto inode = it->second;
  live_.erase(it);
  live_[to] = inode;
  return Status::OK();
}

Status MemEnv::DeleteFile(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (live_.erase(path) == 0) return Status::NotFound("unlink " + path + ": no such file");
  return Status::OK();
}

Status MemEnv::ListDir(const std::string& dir, std::vector<std::string>* names) {
  std::lock_guard<std::mutex> l(mu_);
  std::string d = Normalize(dir);
  if (dirs_.count(d) == 0) return Status::NotFound("opendir " + dir + ": no such directory");
  names->clear();
  for (const auto& [path, inode] : live_) {
    if (Parent(path) == d) names->push_back(path.substr(path.rfind('/') + 1));
  }
  for (const std::string& sub : dirs_) {
    if (sub != d && Parent(sub) == d) names->push_back(sub.substr(sub.rfind('/') + 1));
  }
  return Status::OK();
}

Status MemEnv::CreateDir(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  dirs_.insert(Normalize(dir));
  return Status::OK();
}

bool MemEnv::DirExists(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  return dirs_.count(Normalize(dir)) > 0;
}

Status MemEnv::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  std::string d = Normalize(dir);
  for (auto it = durable_.begin(); it != durable_.end();) {
    if (Parent(it->first) == d && live_.count(it->first) == 0) {
      it = durable_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [path, inode] : live_) {
    if (Parent(path) == d) durable_[path] = inode;
  }
  ++syncs_;
  return Status::OK();
}

Status MemEnv::FileSize(const std::string& path, uint64_t* size) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound("stat " + path + ": no such file");
  *size = it->second->data.size();
  return Status::OK();
}

Status MemEnv::LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) {
  std::lock_guard<std::mutex> l(mu_);
  if (!locked_.insert(path).second) {
    return Status::Locked("store is locked by pid " + std::to_string(::getpid()));
  }
  if (live_.count(path) == 0) live_.emplace(path, std::make_shared<Inode>());
  *lock = std::make_unique<MemLock>(this, path);
  return Status::OK();
}

void MemEnv::DropUnsynced() {
  std::lock_guard<std::mutex> l(mu_);
  live_ = durable_;
  for (auto& [path, inode] : live_) inode->data = inode->synced;
}

Status MemEnv::GetContents(const std::string& path, std::string* data) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound(path);
  *data = it->second->data;
  return Status::OK();
}

Status MemEnv::SetContents(const std::string& path, const std::string& data) {
  std::lock_guard<std::mutex> l(mu_);
  auto& inode = live_[path];
  if (!inode) inode = std::make_shared<Inode>();
  inode->data = data;
  inode->synced = data;
  durable_[path] = inode;
  return Status::OK();
}

uint64_t MemEnv::sync_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return syncs_;
}

}  // namespace sx::store
