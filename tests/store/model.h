// A reference model of the store's logical state, for the crash and
// corruption tests: apply the same batches to it and compare.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "host/store/store.h"

namespace sx::store::testing {

struct ModelStream {
  uint64_t hwm = 0;
  uint64_t truncated = 0;
  std::map<uint64_t, std::string> events;
  bool operator==(const ModelStream&) const = default;
};

struct Model {
  std::map<std::string, ModelStream> streams;
  std::map<std::string, std::string> kv;
  bool operator==(const Model&) const = default;

  // Applies batch if every op is valid; returns whether it was.
  bool Apply(const WriteBatch& batch) {
    Model next = *this;
    for (const WriteBatch::Op& op : batch.ops()) {
      switch (op.kind) {
        case WriteBatch::OpKind::kAppend:
        case WriteBatch::OpKind::kAppendExpect: {
          uint64_t hwm = next.streams.count(op.name) ? next.streams[op.name].hwm : 0;
          if (op.kind == WriteBatch::OpKind::kAppendExpect && hwm != op.expected_seq) return false;
          if (op.seq <= hwm) return false;
          ModelStream& st = next.streams[op.name];
          st.hwm = op.seq;
          st.events[op.seq] = *op.value;
          break;
        }
        case WriteBatch::OpKind::kKvPut:
          next.kv[op.name] = *op.value;
          break;
        case WriteBatch::OpKind::kKvDelete:
          next.kv.erase(op.name);
          break;
        case WriteBatch::OpKind::kKvCas: {
          auto it = next.kv.find(op.name);
          std::optional<std::string> cur;
          if (it != next.kv.end()) cur = it->second;
          if (cur != op.expected) return false;
          if (op.value)
            next.kv[op.name] = *op.value;
          else
            next.kv.erase(op.name);
          break;
        }
        case WriteBatch::OpKind::kTruncate: {
          auto it = next.streams.find(op.name);
          if (it == next.streams.end()) break;
          ModelStream& st = it->second;
          uint64_t through = std::min(op.seq, st.hwm);
          if (through > st.truncated) st.truncated = through;
          st.events.erase(st.events.begin(), st.events.upper_bound(st.truncated));
          break;
        }
      }
    }
    *this = std::move(next);
    return true;
  }
};

// Reads the whole logical state of a store.
inline Model Snapshot(Store* store) {
  Model m;
  for (const std::string& name : store->Streams()) {
    ModelStream& st = m.streams[name];
    st.hwm = store->LastSeq(name);
    std::vector<Event> events;
    Status s = store->Read(name, 0, SIZE_MAX, &events);
    EXPECT_TRUE(s.ok()) << s.ToString();
    uint64_t prev = 0;
    for (Event& e : events) {
      EXPECT_GT(e.seq, prev) << "seqs must be unique and rising";
      EXPECT_LE(e.seq, st.hwm);
      prev = e.seq;
      st.events[e.seq] = std::move(e.payload);
    }
    st.truncated = st.events.empty() ? st.hwm : st.events.begin()->first - 1;
  }
  for (const std::string& key : store->KvKeys()) {
    Status s = store->KvGet(key, &m.kv[key]);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return m;
}

// Truncated-through is not observable exactly (events may simply be absent),
// so compare what is observable: hwm, events, kv.
inline bool SameObservable(const Model& a, const Model& b) {
  if (a.kv != b.kv || a.streams.size() != b.streams.size()) return false;
  for (const auto& [name, st] : a.streams) {
    auto it = b.streams.find(name);
    if (it == b.streams.end() || it->second.hwm != st.hwm || it->second.events != st.events) {
      return false;
    }
  }
  return true;
}

inline std::string Describe(const Model& m) {
  std::string out;
  for (const auto& [name, st] : m.streams) {
    out += "stream[" + std::to_string(name.size()) + "] hwm=" + std::to_string(st.hwm) + " seqs:";
    for (const auto& [seq, p] : st.events) out += " " + std::to_string(seq);
    out += "\n";
  }
  out += "kv keys: " + std::to_string(m.kv.size()) + "\n";
  return out;
}

// Random batches over a few streams and keys, mostly valid.
class OpGenerator {
 public:
  explicit OpGenerator(uint32_t seed) : rng_(seed) {}

  std::string Payload() {
    size_t len = Uniform(0, 4) == 0 ? Uniform(300, 1500) : Uniform(0, 120);
    std::string p(len, '\0');
    for (char& c : p) c = static_cast<char>(Uniform(0, 255));
    return p;
  }
  std::string Stream() {
    static const std::string kNames[] = {"a", "b/c", std::string("\0x", 2), ""};
    return kNames[Uniform(0, 3)];
  }
  std::string Key() { return "key" + std::to_string(Uniform(0, 4)); }

  WriteBatch Next(const Model& m) {
    WriteBatch b;
    size_t n = Uniform(0, 5) == 0 ? Uniform(2, 5) : 1;
    std::map<std::string, uint64_t> hwm;
    for (const auto& [name, st] : m.streams) hwm[name] = st.hwm;
    for (size_t i = 0; i < n; ++i) {
      switch (Uniform(0, 9)) {
        case 0:
        case 1:
        case 2:
        case 3: {
          std::string s = Stream();
          uint64_t seq = hwm[s] + (Uniform(0, 15) == 0 ? 0 : Uniform(1, 3));
          hwm[s] = std::max(hwm[s], seq);
          b.Append(s, seq, Payload());
          break;
        }
        case 4: {
          std::string s = Stream();
          uint64_t expect = hwm[s] - (Uniform(0, 8) == 0 && hwm[s] > 0 ? 1 : 0);
          b.AppendExpect(s, expect, hwm[s] + 1, Payload());
          hwm[s] = std::max(hwm[s], hwm[s] + 1);
          break;
        }
        case 5:
        case 6:
          b.KvPut(Key(), Payload());
          break;
        case 7:
          b.KvDelete(Key());
          break;
        case 8: {
          std::string k = Key();
          auto it = m.kv.find(k);
          std::optional<std::string> expected;
          if (it != m.kv.end() && Uniform(0, 3) != 0) expected = it->second;
          std::optional<std::string> value;
          if (Uniform(0, 3) != 0) value = Payload();
          b.KvCas(k, expected, value);
          break;
        }
        case 9: {
          std::string s = Stream();
          b.TruncateThrough(s, hwm[s] > 2 ? hwm[s] - Uniform(0, 2) : hwm[s]);
          break;
        }
      }
    }
    return b;
  }

  size_t Uniform(size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
  }

 private:
  std::mt19937 rng_;
};

}  // namespace sx::store::testing
