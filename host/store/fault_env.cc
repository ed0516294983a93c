#include "host/store/fault_env.h"

namespace sx::store {
namespace {

Status Injected(FaultKind kind, const std::string& what) {
  switch (kind) {
    case FaultKind::kNoSpace:
      return Status::NoSpace(what + ": No space left on device (injected)");
    default:
      return Status::IOError(what + ": Input/output error (injected)");
  }
}

class FaultFile final : public File {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<File> base, std::string path)
      : env_(env), base_(std::move(base)), path_(std::move(path)) {}

  Status ReadAt(uint64_t offset, size_t n, std::string* out) override {
    return base_->ReadAt(offset, n, out);
  }
  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) override {
    return base_->Read(offset, n, scratch, result);
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    FaultKind kind;
    if (env_->Inject(FaultEnv::CallClass::kWrite, &kind)) {
      if (kind == FaultKind::kShortWrite) {
        Status s = base_->WriteAt(offset, data.substr(0, data.size() / 2));
        s.IgnoreError();
      }
      return Injected(kind, "write " + path_);
    }
    return base_->WriteAt(offset, data);
  }

  Status Append(std::string_view data) override {
    FaultKind kind;
    if (env_->Inject(FaultEnv::CallClass::kWrite, &kind)) {
      if (kind == FaultKind::kShortWrite) {
        Status s = base_->Append(data.substr(0, data.size() / 2));
        s.IgnoreError();
      }
      return Injected(kind, "write " + path_);
    }
    return base_->Append(data);
  }

  Status Sync() override {
    FaultKind kind;
    if (env_->Inject(FaultEnv::CallClass::kSync, &kind))
      return Injected(kind, "fdatasync " + path_);
    return base_->Sync();
  }

  Status Size(uint64_t* size) override { return base_->Size(size); }

  Status Truncate(uint64_t size) override {
    FaultKind kind;
    if (env_->Inject(FaultEnv::CallClass::kWrite, &kind))
      return Injected(kind, "truncate " + path_);
    return base_->Truncate(size);
  }

  Status Preallocate(uint64_t len, bool zero_fill) override {
    FaultKind kind;
    if (env_->Inject(FaultEnv::CallClass::kWrite, &kind)) {
      return Injected(kind, "fallocate " + path_);
    }
    return base_->Preallocate(len, zero_fill);
  }

 private:
  FaultEnv* env_;
  std::unique_ptr<File> base_;
  std::string path_;
};

}  // namespace

void FaultEnv::FailAt(uint64_t n, FaultKind kind, bool sticky) {
  std::lock_guard<std::mutex> l(mu_);
  fail_at_ = calls_ + n;
  kind_ = kind;
  sticky_ = sticky;
  fired_ = false;
}

void FaultEnv::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  fail_at_ = 0;
}

bool FaultEnv::Inject(CallClass cls, FaultKind* kind) {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t n = ++calls_;
  if (fail_at_ == 0 || n < fail_at_) return false;
  bool matches = false;
  switch (kind_) {
    case FaultKind::kIOError:
      matches = true;
      break;
    case FaultKind::kNoSpace:
    case FaultKind::kShortWrite:
      matches = cls == CallClass::kWrite;
      break;
    case FaultKind::kSyncFail:
      matches = cls == CallClass::kSync;
      break;
  }
  if (!matches) return false;
  if (fired_ && !sticky_) return false;
  fired_ = true;
  *kind = kind_;
  if (!sticky_) fail_at_ = 0;
  return true;
}

Status FaultEnv::OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) {
  if (mode != OpenMode::kReadOnly) {
    FaultKind kind;
    if (Inject(CallClass::kOther, &kind)) return Injected(kind, "open " + path);
  }
  std::unique_ptr<File> base;
  Status s = base_->OpenFile(path, mode, &base);
  if (!s.ok()) return s;
  *out = std::make_unique<FaultFile>(this, std::move(base), path);
  return Status::OK();
}

Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  FaultKind kind;
  if (Inject(CallClass::kOther, &kind)) return Injected(kind, "rename " + from);
  return base_->RenameFile(from, to);
}

Status FaultEnv::DeleteFile(const std::string& path) {
  FaultKind kind;
  if (Inject(CallClass::kOther, &kind)) return Injected(kind, "unlink " + path);
  return base_->DeleteFile(path);
}

Status FaultEnv::SyncDir(const std::string& dir) {
  FaultKind kind;
  if (Inject(CallClass::kSync, &kind)) return Injected(kind, "fsync dir " + dir);
  return base_->SyncDir(dir);
}

}  // namespace sx::store
