// salvage.cc — every record that still checks out, from a damaged store
// into a new one (backup.h says how).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "host/store/backup.h"
#include "host/store/cid.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"

namespace sx::store {
namespace {

struct StreamModel {
  uint64_t hwm = 0;
  uint64_t truncated = 0;
  std::map<uint64_t, std::string> events;
};

class Rebuild {
 public:
  explicit Rebuild(SalvageReport* report) : report_(report) {}

  void Record(const std::string& file, const RecordView& rec) {
    if (rec.type != log::kBatchRecord && rec.type != log::kCompactionRecord) return;
    OpReader reader(rec.body);
    OpView op;
    while (reader.Next(&op)) {
      std::string name(op.name);
      switch (op.tag) {
        case log::kAppendOp: {
          StreamModel& st = streams_[name];
          st.events[op.seq] = std::string(op.value);
          st.hwm = std::max(st.hwm, op.seq);
          break;
        }
        case log::kKvPutOp:
          kv_[name] = std::string(op.value);
          break;
        case log::kKvDeleteOp:
          kv_[name] = std::nullopt;
          break;
        case log::kTruncateOp: {
          StreamModel& st = streams_[name];
          st.truncated = std::max(st.truncated, op.seq);
          break;
        }
        case log::kStreamMetaOp: {
          StreamModel& st = streams_[name];
          st.hwm = std::max(st.hwm, op.seq);
          st.truncated = std::max(st.truncated, op.seq2);
          break;
        }
      }
    }
    if (!reader.status().ok()) {
      report_->lost.push_back(file + " offset " + std::to_string(rec.offset) +
                              ": a record whose checksum holds but whose ops do not parse (" +
                              reader.status().message() + "); the ops after the bad one are lost");
    }
  }

  Status WriteTo(Store* store) {
    WriteBatch batch;
    size_t bytes = 0;
    auto flush = [&]() -> Status {
      if (batch.empty()) return Status::OK();
      Status s = store->Commit(batch);
      batch.Clear();
      bytes = 0;
      return s;
    };
    // After damage, a gap in a stream's seqs is most likely events lost in
    // it (seqs need only rise, so it may also be seqs never appended).
    bool damaged = !report_->lost.empty();
    for (auto& [name, st] : streams_) {
      uint64_t last = 0;
      size_t gaps = 0;
      for (auto& [seq, payload] : st.events) {
        if (seq <= st.truncated) continue;
        if (damaged && last > 0 && seq > last + 1 && gaps++ < 20) {
          std::string line = "stream \"";
          line.append(EscapeBytes(name, 64, true)).append("\": no event at seq ");
          line.append(std::to_string(last + 1));
          if (seq - 1 > last + 1) line.append("-").append(std::to_string(seq - 1));
          line.append(" (lost in the damage, or never appended)");
          report_->lost.push_back(std::move(line));
        }
        bytes += payload.size() + name.size();
        batch.Append(name, seq, std::move(payload));
        ++report_->events;
        last = seq;
        if (batch.size() >= 4096 || bytes >= (8u << 20)) {
          Status s = flush();
          if (!s.ok()) return s;
        }
      }
      if (gaps > 20) {
        report_->lost.push_back("stream \"" + EscapeBytes(name, 64, true) + "\": and " +
                                std::to_string(gaps - 20) + " more gaps");
      }
      if (last == 0 && st.hwm > 0) {
        // Every event truncated: the stream keeps its last seq.
        batch.Append(name, st.hwm, std::string());
        batch.TruncateThrough(name, st.hwm);
      } else if (last < st.hwm) {
        report_->lost.push_back("stream \"" + EscapeBytes(name, 64, true) + "\": events " +
                                std::to_string(last + 1) + " to " + std::to_string(st.hwm) +
                                " are gone (its last seq was " + std::to_string(st.hwm) + ")");
      }
    }
    for (auto& [key, value] : kv_) {
      if (!value) continue;
      batch.KvPut(key, std::move(*value));
      ++report_->kv;
      if (batch.size() >= 4096) {
        Status s = flush();
        if (!s.ok()) return s;
      }
    }
    Status s = flush();
    if (s.ok()) s = store->Sync();
    return s;
  }

 private:
  SalvageReport* report_;
  std::map<std::string, StreamModel> streams_;
  std::map<std::string, std::optional<std::string>> kv_;
};

}  // namespace

Status SalvageStore(Env* env, const std::string& dir, const std::string& out, SalvageReport* report,
                    const std::function<void(uint64_t, uint64_t)>& progress) {
  if (!env->DirExists(dir)) return Status::NotFound("store directory " + dir + " does not exist");
  if (env->DirExists(out)) {
    std::vector<std::string> names;
    Status s = env->ListDir(out, &names);
    if (!s.ok()) return s;
    if (!names.empty()) return Status::InvalidArgument(out + " exists and is not empty");
  }
  std::vector<std::string> names;
  Status s = env->ListDir(dir, &names);
  if (!s.ok()) return s;
  std::vector<uint32_t> numbers;
  for (const std::string& name : names) {
    uint32_t n;
    if (ParseSegmentFileName(name, &n)) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  if (numbers.empty()) return Status::NotFound(dir + " has no segment files: nothing to salvage");

  Rebuild rebuild(report);
  std::string image;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (progress) progress(i, numbers.size());
    std::string file = SegmentFileName(numbers[i]);
    s = ReadFileToString(env, dir + "/" + file, &image);
    if (!s.ok()) {
      report->lost.push_back(file + ": cannot read: " + s.ToString());
      continue;
    }
    SegmentScan header;
    ScanSegment(
        image, numbers[i], [](const RecordView&) { return Status::OK(); }, &header)
        .IgnoreError();
    if (header.version == 0) {
      report->lost.push_back(file + ": bad segment header; searching its records all the same");
    }
    uint64_t pos = log::kSegmentHeaderSize;
    while (pos < image.size()) {
      size_t len = ValidRecordLengthAt(image, pos);
      if (len > 0) {
        RecordView rec{pos, static_cast<log::RecordType>(image[pos + 8]),
                       std::string_view(image).substr(pos + log::kRecordHeaderSize,
                                                      len - log::kRecordHeaderSize)};
        ++report->records_kept;
        rebuild.Record(file, rec);
        pos += len;
        if (rec.type == log::kSegmentEndRecord) break;
        continue;
      }
      uint64_t next;
      if (FindNextValidRecord(image, pos, &next)) {
        report->bytes_lost += next - pos;
        report->lost.push_back(
            file + " offset " + std::to_string(pos) + ": " + std::to_string(next - pos) +
            " damaged bytes skipped; records resume at offset " + std::to_string(next));
        pos = next;
        continue;
      }
      // No valid record after pos: zeros (the end of the log) or a tail
      // that never became a record.
      uint64_t end = image.size();
      while (end > pos && image[end - 1] == 0) --end;
      if (end > pos) {
        report->bytes_lost += end - pos;
        report->lost.push_back(file + " offset " + std::to_string(pos) + ": " +
                               std::to_string(end - pos) +
                               " bytes at the end hold no valid record (a torn write or damage)");
      }
      break;
    }
  }
  if (progress) progress(numbers.size(), numbers.size());

  Options options;
  options.env = env;
  options.sync = SyncMode::kNever;
  options.auto_compact = false;
  std::unique_ptr<Store> store;
  s = Store::Open(options, out, &store);
  if (!s.ok()) return s.WithContext("create " + out);
  s = rebuild.WriteTo(store.get());
  if (!s.ok()) return s.WithContext("write " + out);

  // Blobs whose bytes still hash to their name.
  std::string blob_dir = dir + "/" + log::kBlobDirName;
  std::vector<std::string> blobs;
  if (env->DirExists(blob_dir)) env->ListDir(blob_dir, &blobs).IgnoreError();
  std::sort(blobs.begin(), blobs.end());
  std::string bytes, cid;
  for (const std::string& b : blobs) {
    if (b.size() > 4 && b.compare(b.size() - 4, 4, log::kTempSuffix) == 0) continue;
    s = ReadFileToString(env, blob_dir + "/" + b, &bytes);
    if (!s.ok()) {
      report->lost.push_back("blob " + b + ": cannot read: " + s.ToString());
      continue;
    }
    if (CidForBytes(bytes) != b) {
      report->lost.push_back("blob " + b + ": its bytes do not hash to its name");
      continue;
    }
    s = store->BlobPut(bytes, &cid);
    if (!s.ok()) return s.WithContext("write " + out);
    ++report->blobs;
  }
  return store->Sync();
}

}  // namespace sx::store
