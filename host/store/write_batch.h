// write_batch.h — WriteBatch: the writes of one atomic commit, as every
// storage engine takes them (the embedded store, and any engine behind
// host/backend/backend.h). Names, payloads and values are opaque bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sx::store {

// A multi-write commit across streams and kv: all of it happens or none.
// Ops apply in the order added; each is checked against the state the
// earlier ones leave.
class WriteBatch {
 public:
  void Append(std::string stream, uint64_t seq, std::string payload) {
    ops_.push_back(
        Op{OpKind::kAppend, std::move(stream), seq, 0, std::nullopt, std::move(payload)});
  }
  // Conflict unless the stream's hwm == expected_last_seq (0: never appended).
  void AppendExpect(std::string stream, uint64_t expected_last_seq, uint64_t seq,
                    std::string payload) {
    ops_.push_back(Op{OpKind::kAppendExpect, std::move(stream), seq, expected_last_seq,
                      std::nullopt, std::move(payload)});
  }
  void KvPut(std::string key, std::string value) {
    ops_.push_back(Op{OpKind::kKvPut, std::move(key), 0, 0, std::nullopt, std::move(value)});
  }
  void KvDelete(std::string key) {
    ops_.push_back(Op{OpKind::kKvDelete, std::move(key), 0, 0, std::nullopt, std::nullopt});
  }
  // expected nullopt: the key must be absent; value nullopt: delete. Bytes compare.
  void KvCas(std::string key, std::optional<std::string> expected,
             std::optional<std::string> value) {
    ops_.push_back(Op{OpKind::kKvCas, std::move(key), 0, 0, std::move(expected), std::move(value)});
  }
  void TruncateThrough(std::string stream, uint64_t seq) {
    ops_.push_back(Op{OpKind::kTruncate, std::move(stream), seq, 0, std::nullopt, std::nullopt});
  }

  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  void Clear() { ops_.clear(); }

  enum class OpKind { kAppend, kAppendExpect, kKvPut, kKvDelete, kKvCas, kTruncate };
  struct Op {
    OpKind kind;
    std::string name;  // stream or key
    uint64_t seq = 0;
    uint64_t expected_seq = 0;
    std::optional<std::string> expected;  // kKvCas
    std::optional<std::string> value;     // payload, kv value, or CAS new value
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

}  // namespace sx::store
