// read_only.cc — the read-only wrapper of read_only.h.
#include "host/backend/read_only.h"

#include <utility>

namespace sx::backend {

namespace {

Status ReadOnly() { return Status::InvalidArgument("store is opened read-only"); }

class ReadOnlyBackend final : public Backend {
 public:
  explicit ReadOnlyBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

  const char* kind() const override { return inner_->kind(); }

  void CommitGroup(std::span<const WriteBatch* const> batches,
                   std::vector<Status>* results) override {
    results->assign(batches.size(), ReadOnly());
  }

  Status Read(const std::string& stream, uint64_t from_seq, size_t limit,
              std::vector<Event>* out) override {
    return inner_->Read(stream, from_seq, limit, out);
  }
  Status LastSeq(const std::string& stream, uint64_t* seq) override {
    return inner_->LastSeq(stream, seq);
  }
  Status LastSeqs(const std::vector<std::string>& streams, std::vector<uint64_t>* seqs) override {
    return inner_->LastSeqs(streams, seqs);
  }
  Status FirstSeq(const std::string& stream, uint64_t* seq) override {
    return inner_->FirstSeq(stream, seq);
  }
  Status Streams(std::vector<std::string>* out) override { return inner_->Streams(out); }

  Status KvGet(const std::string& key, std::string* value) override {
    return inner_->KvGet(key, value);
  }
  Status KvHas(const std::string& key, bool* has) override { return inner_->KvHas(key, has); }
  Status KvKeys(std::vector<std::string>* out) override { return inner_->KvKeys(out); }

  Status BlobPut(const std::string&, std::string*) override { return ReadOnly(); }
  Status BlobGet(const std::string& cid, std::string* bytes) override {
    return inner_->BlobGet(cid, bytes);
  }
  Status BlobHas(const std::string& cid, bool* has) override { return inner_->BlobHas(cid, has); }

  Status Sync() override { return Status::OK(); }  // nothing of ours to make durable
  Status Compact() override { return ReadOnly(); }
  Status GetStats(Stats* out) override { return inner_->GetStats(out); }

  Status CommitPosition(uint64_t* position) override { return inner_->CommitPosition(position); }
  Status WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) override {
    return inner_->WaitForCommit(seen, timeout_ms, position);
  }
  bool SeesOtherWriters() const override { return inner_->SeesOtherWriters(); }
  Status CatchUp() override { return inner_->CatchUp(); }
  bool SetSocketWaiter(SocketWaiter waiter) override {
    return inner_->SetSocketWaiter(std::move(waiter));
  }

 private:
  std::unique_ptr<Backend> inner_;
};

}  // namespace

std::unique_ptr<Backend> MakeReadOnly(std::unique_ptr<Backend> inner) {
  return std::make_unique<ReadOnlyBackend>(std::move(inner));
}

}  // namespace sx::backend
