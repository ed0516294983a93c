// memory_backend.cc — the in-memory engine.
#include "host/backend/memory_backend.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <unordered_map>

#include "host/store/cid.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"

namespace sx::backend {

namespace {

// As the store quotes a name in a message.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  out += store::EscapeBytes(s, 64);
  out += '"';
  return out;
}

Status CheckSize(const char* what, const std::string& bytes, size_t limit) {
  if (bytes.size() <= limit) return Status::OK();
  return Status::InvalidArgument(std::string(what) + " is " + std::to_string(bytes.size()) +
                                 " bytes, more than the limit of " + std::to_string(limit));
}

}  // namespace

MemoryBackend::MemoryBackend() = default;
MemoryBackend::~MemoryBackend() = default;

void MemoryBackend::CommitGroup(std::span<const WriteBatch* const> batches,
                                std::vector<Status>* results) {
  std::lock_guard<std::mutex> l(mu_);
  results->assign(batches.size(), Status::OK());
  bool changed = false;
  for (size_t i = 0; i < batches.size(); ++i) {
    (*results)[i] = CommitOne(*batches[i]);
    if ((*results)[i].ok() && !batches[i]->empty()) changed = true;
  }
  if (changed) {
    ++commits_;
    Bump();
  }
}

// Two passes: the checks, against the state the earlier ops of the batch
// leave (kept aside in `hwm` and `kv`), then the changes.
Status MemoryBackend::CommitOne(const WriteBatch& batch) {
  using Kind = WriteBatch::OpKind;
  std::unordered_map<std::string, uint64_t> hwm;
  std::unordered_map<std::string, std::optional<std::string>> kv;
  auto hwm_of = [&](const std::string& name) -> uint64_t {
    auto it = hwm.find(name);
    if (it != hwm.end()) return it->second;
    auto st = streams_.find(name);
    return st == streams_.end() ? 0 : st->second.hwm;
  };
  auto value_of = [&](const std::string& key) -> std::optional<std::string> {
    auto it = kv.find(key);
    if (it != kv.end()) return it->second;
    auto v = kv_.find(key);
    if (v == kv_.end()) return std::nullopt;
    return v->second;
  };
  for (const WriteBatch::Op& op : batch.ops()) {
    const std::string& name = op.name;
    switch (op.kind) {
      case Kind::kAppend:
      case Kind::kAppendExpect: {
        Status s = CheckSize("stream name", name, store::log::kMaxNameBytes);
        if (s.ok()) s = CheckSize("payload", *op.value, store::log::kMaxValueBytes);
        if (!s.ok()) return s.WithContext("append to stream " + Quote(name));
        uint64_t h = hwm_of(name);
        if (op.kind == Kind::kAppendExpect && h != op.expected_seq) {
          return Status::Conflict("append to stream " + Quote(name) + ": expected last seq " +
                                      std::to_string(op.expected_seq) + " but it is " +
                                      std::to_string(h),
                                  op.expected_seq, h);
        }
        if (op.seq <= h) {
          return Status::Conflict("append to stream " + Quote(name) + ": seq " +
                                      std::to_string(op.seq) +
                                      " is not above the high-water mark " + std::to_string(h),
                                  h + 1, h);
        }
        hwm[name] = op.seq;
        break;
      }
      case Kind::kKvPut:
      case Kind::kKvDelete:
      case Kind::kKvCas: {
        Status s = CheckSize("key", name, store::log::kMaxNameBytes);
        if (s.ok() && op.value) s = CheckSize("value", *op.value, store::log::kMaxValueBytes);
        if (!s.ok()) return s;
        if (op.kind == Kind::kKvCas) {
          std::optional<std::string> current = value_of(name);
          if (current != op.expected) {
            const char* why = !current       ? "the key is absent"
                              : !op.expected ? "the key is present"
                                             : "the value differs from the expected one";
            return Status::Conflict("kv-cas on key " + Quote(name) + ": " + why);
          }
        }
        kv[name] = op.kind == Kind::kKvDelete ? std::nullopt : op.value;
        break;
      }
      case Kind::kTruncate: {
        Status s = CheckSize("stream name", name, store::log::kMaxNameBytes);
        if (!s.ok()) return s;
        break;
      }
    }
  }
  for (const WriteBatch::Op& op : batch.ops()) {
    switch (op.kind) {
      case Kind::kAppend:
      case Kind::kAppendExpect: {
        Stream& st = streams_[op.name];
        st.events.emplace(op.seq, *op.value);
        st.hwm = op.seq;
        ++appends_;
        break;
      }
      case Kind::kKvPut:
      case Kind::kKvDelete:
      case Kind::kKvCas:
        if (op.value && op.kind != Kind::kKvDelete) {
          kv_[op.name] = *op.value;
        } else {
          kv_.erase(op.name);
        }
        break;
      case Kind::kTruncate: {
        auto it = streams_.find(op.name);
        if (it == streams_.end()) break;
        uint64_t through = std::min(op.seq, it->second.hwm);
        auto& events = it->second.events;
        events.erase(events.begin(), events.upper_bound(through));
        break;
      }
    }
  }
  return Status::OK();
}

void MemoryBackend::Bump() {
  ++position_;
  moved_.notify_all();
}

Status MemoryBackend::Read(const std::string& stream, uint64_t from_seq, size_t limit,
                           std::vector<Event>* out) {
  std::lock_guard<std::mutex> l(mu_);
  out->clear();
  auto it = streams_.find(stream);
  if (it == streams_.end()) return Status::OK();
  for (auto e = it->second.events.lower_bound(from_seq);
       e != it->second.events.end() && out->size() < limit; ++e) {
    out->push_back(Event{e->first, e->second});
  }
  return Status::OK();
}

Status MemoryBackend::LastSeq(const std::string& stream, uint64_t* seq) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = streams_.find(stream);
  *seq = it == streams_.end() ? 0 : it->second.hwm;
  return Status::OK();
}

Status MemoryBackend::FirstSeq(const std::string& stream, uint64_t* seq) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    *seq = 1;
  } else if (it->second.events.empty()) {
    *seq = it->second.hwm + 1;
  } else {
    *seq = it->second.events.begin()->first;
  }
  return Status::OK();
}

Status MemoryBackend::Streams(std::vector<std::string>* out) {
  std::lock_guard<std::mutex> l(mu_);
  out->clear();
  for (const auto& [name, st] : streams_) out->push_back(name);
  return Status::OK();
}

Status MemoryBackend::KvGet(const std::string& key, std::string* value) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = kv_.find(key);
  if (it == kv_.end()) return Status::NotFound("no key " + Quote(key));
  *value = it->second;
  return Status::OK();
}

Status MemoryBackend::KvHas(const std::string& key, bool* has) {
  std::lock_guard<std::mutex> l(mu_);
  *has = kv_.count(key) > 0;
  return Status::OK();
}

Status MemoryBackend::KvKeys(std::vector<std::string>* out) {
  std::lock_guard<std::mutex> l(mu_);
  out->clear();
  for (const auto& [key, value] : kv_) out->push_back(key);
  return Status::OK();
}

Status MemoryBackend::BlobPut(const std::string& bytes, std::string* cid) {
  *cid = store::CidForBytes(bytes);
  std::lock_guard<std::mutex> l(mu_);
  if (blobs_.emplace(*cid, bytes).second) Bump();
  return Status::OK();
}

Status MemoryBackend::BlobGet(const std::string& cid, std::string* bytes) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = blobs_.find(cid);
  if (it == blobs_.end()) return Status::NotFound("no blob " + cid);
  *bytes = it->second;
  return Status::OK();
}

Status MemoryBackend::BlobHas(const std::string& cid, bool* has) {
  std::lock_guard<std::mutex> l(mu_);
  *has = blobs_.count(cid) > 0;
  return Status::OK();
}

Status MemoryBackend::Sync() { return Status::OK(); }

Status MemoryBackend::Compact() { return Status::OK(); }

Status MemoryBackend::GetStats(Stats* out) {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t events = 0;
  for (const auto& [name, st] : streams_) events += st.events.size();
  *out = {{"streams", streams_.size()}, {"events", events},    {"kv-keys", kv_.size()},
          {"blobs", blobs_.size()},     {"appends", appends_}, {"commits", commits_}};
  return Status::OK();
}

Status MemoryBackend::CommitPosition(uint64_t* position) {
  std::lock_guard<std::mutex> l(mu_);
  *position = position_;
  return Status::OK();
}

Status MemoryBackend::WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) {
  std::unique_lock<std::mutex> l(mu_);
  moved_.wait_for(l, std::chrono::milliseconds(std::max(0, timeout_ms)),
                  [&] { return position_ > seen; });
  *position = position_;
  return Status::OK();
}

}  // namespace sx::backend
