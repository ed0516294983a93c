// backup.cc — a consistent copy of a store while its writer runs.
#include "host/store/backup.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"

namespace sx::store {
namespace {

// out must be missing or empty; it is created.
Status PrepareOut(Env* env, const std::string& out) {
  if (env->DirExists(out)) {
    std::vector<std::string> names;
    Status s = env->ListDir(out, &names);
    if (!s.ok()) return s;
    if (!names.empty()) return Status::InvalidArgument(out + " exists and is not empty");
  }
  Status s = env->CreateDir(out);
  if (s.ok()) s = env->CreateDir(out + "/" + log::kBlobDirName);
  return s;
}

Status WriteWhole(Env* env, const std::string& path, std::string_view data, uint64_t size) {
  std::unique_ptr<File> f;
  Status s = env->OpenFile(path, OpenMode::kCreateTrunc, &f);
  if (s.ok()) s = f->WriteAt(0, data);
  if (s.ok() && size > data.size()) s = f->Truncate(size);
  if (s.ok()) s = f->Sync();
  return s;
}

// Hard link, or a copy where the filesystem cannot link (or env is not the
// real one). NotFound if the source is gone.
Status LinkOrCopy(Env* env, const std::string& from, const std::string& to, bool* linked,
                  uint64_t* copied) {
  *linked = false;
  if (env == Env::Default()) {
    if (::link(from.c_str(), to.c_str()) == 0) {
      *linked = true;
      return Status::OK();
    }
    if (errno == ENOENT) return Status::NotFound(from + " is gone");
  }
  std::string data;
  Status s = ReadFileToString(env, from, &data);
  if (!s.ok()) {
    return env->FileSize(from, copied).IsNotFound() ? Status::NotFound(from + " is gone") : s;
  }
  *copied += data.size();
  return WriteWhole(env, to, data, data.size());
}

// Removes what an attempt left in out (not out itself).
void ClearOut(Env* env, const std::string& out) {
  std::vector<std::string> names;
  if (env->ListDir(out, &names).ok()) {
    for (const std::string& n : names) {
      if (n != log::kBlobDirName) env->DeleteFile(out + "/" + n).IgnoreError();
    }
  }
  names.clear();
  if (env->ListDir(out + "/" + log::kBlobDirName, &names).ok()) {
    for (const std::string& n : names) {
      env->DeleteFile(out + "/" + log::kBlobDirName + "/" + n).IgnoreError();
    }
  }
}

std::vector<uint32_t> SegmentNumbers(const std::vector<std::string>& names) {
  std::vector<uint32_t> numbers;
  for (const std::string& name : names) {
    uint32_t n;
    if (ParseSegmentFileName(name, &n)) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

// One attempt. *retry when a segment vanished under it (compaction).
Status CopyOnce(Env* env, const std::string& dir, const std::string& out, BackupReport* report,
                const std::function<void(uint64_t, uint64_t)>& progress, bool* retry) {
  *retry = false;
  std::string marker_bytes;
  StoreMarker marker;
  bool has_marker = ReadFileToString(env, dir + "/" + log::kMarkerFileName, &marker_bytes).ok();
  if (has_marker) {
    Status s = DecodeStoreMarker(marker_bytes, &marker);
    if (!s.ok()) return s;
  }
  std::vector<std::string> names;
  Status s = env->ListDir(dir, &names);
  if (!s.ok()) return s;
  std::vector<uint32_t> numbers = SegmentNumbers(names);
  if (numbers.empty()) return Status::NotFound(dir + " is not an sx store: it has no segments");
  size_t i = 0;
  uint64_t newest_end = 0;
  while (i < numbers.size()) {
    uint32_t n = numbers[i];
    std::string from = dir + "/" + SegmentFileName(n), to = out + "/" + SegmentFileName(n);
    if (progress) progress(i, numbers.size());
    if (i + 1 < numbers.size()) {
      bool linked;
      s = LinkOrCopy(env, from, to, &linked, &report->bytes_copied);
      if (s.IsNotFound()) {
        *retry = true;
        return Status::OK();
      }
      if (!s.ok()) return s;
      ++(linked ? report->segments_linked : report->segments_copied);
      ++i;
      continue;
    }
    // The newest segment: its committed prefix.
    std::string image;
    s = ReadFileToString(env, from, &image);
    if (s.IsNotFound() || (!s.ok() && !env->FileSize(from, &newest_end).ok())) {
      *retry = true;
      return Status::OK();
    }
    if (!s.ok()) return s;
    SegmentScan scan;
    s = ScanSegment(
        image, n, [](const RecordView&) { return Status::OK(); }, &scan);
    if (!s.ok()) return s;
    if (scan.version == 0) return Status::Corruption(from + ": bad segment header");
    if (scan.end == SegmentScan::End::kSealed) {
      // It rolled while we looked: the next one is the newest now.
      s = WriteWhole(env, to, image, image.size());
      if (!s.ok()) return s;
      ++report->segments_copied;
      report->bytes_copied += image.size();
      names.clear();
      s = env->ListDir(dir, &names);
      if (!s.ok()) return s;
      std::vector<uint32_t> now = SegmentNumbers(names);
      bool more = false;
      for (uint32_t m : now) {
        if (m > n) {
          numbers.push_back(m);
          more = true;
        }
      }
      if (!more) return Status::Corruption(from + " is sealed and no segment follows it");
      ++i;
      continue;
    }
    newest_end = scan.valid_end;
    s = WriteWhole(env, to, std::string_view(image).substr(0, scan.valid_end), image.size());
    if (!s.ok()) return s;
    ++report->segments_copied;
    report->bytes_copied += scan.valid_end;
    ++i;
  }
  if (progress) progress(numbers.size(), numbers.size());
  // The marker names the newest segment copied, closed cleanly where its
  // copied records end.
  if (has_marker) {
    marker.newest_segment = numbers.back();
    marker.clean_end = static_cast<uint32_t>(newest_end);
    s = WriteWhole(env, out + "/" + log::kMarkerFileName, EncodeStoreMarker(marker),
                   log::kMarkerSize);
    if (!s.ok()) return s;
  }
  // Blobs last: each is published before its record is logged, so every
  // blob a copied record names is there by now.
  std::string blob_dir = dir + "/" + log::kBlobDirName;
  std::vector<std::string> blobs;
  if (env->DirExists(blob_dir)) {
    s = env->ListDir(blob_dir, &blobs);
    if (!s.ok()) return s;
  }
  for (const std::string& b : blobs) {
    if (b.size() > 4 && b.compare(b.size() - 4, 4, log::kTempSuffix) == 0) continue;
    bool linked;
    uint64_t copied = 0;
    s = LinkOrCopy(env, blob_dir + "/" + b, out + "/" + log::kBlobDirName + "/" + b, &linked,
                   &copied);
    if (s.IsNotFound()) continue;  // a blob the writer never logged, or a leftover
    if (!s.ok()) return s;
    ++report->blobs;
  }
  s = env->SyncDir(out + "/" + log::kBlobDirName);
  if (s.ok()) s = env->SyncDir(out);
  return s;
}

}  // namespace

Status BackupStore(Env* env, const std::string& dir, const std::string& out, BackupReport* report,
                   const std::function<void(uint64_t, uint64_t)>& progress) {
  if (!env->DirExists(dir)) return Status::NotFound("store directory " + dir + " does not exist");
  Status s = PrepareOut(env, out);
  if (!s.ok()) return s.WithContext("backup into " + out);
  for (report->attempts = 1;; ++report->attempts) {
    bool retry = false;
    BackupReport counts;
    s = CopyOnce(env, dir, out, &counts, progress, &retry);
    if (!s.ok()) return s.WithContext("backup " + dir);
    if (!retry) {
      counts.attempts = report->attempts;
      *report = counts;
      break;
    }
    if (report->attempts >= 100) {
      return Status::IOError("backup " + dir + ": segments kept vanishing under it");
    }
    ClearOut(env, out);
  }
  // Open the copy as a tool does and verify it.
  Options options;
  options.env = env;
  options.create_if_missing = false;
  options.read_only = true;
  options.lock_read_only = true;
  std::unique_ptr<Store> copy;
  s = Store::Open(options, out, &copy);
  if (!s.ok()) return s.WithContext("open the backup " + out);
  s = copy->Verify([&](const std::string& what) {
    if (what.rfind("note: ", 0) != 0) report->verify_problems.push_back(what);
  });
  if (!s.ok()) return s.WithContext("verify the backup " + out);
  return Status::OK();
}

}  // namespace sx::store
