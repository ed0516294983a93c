// StreamIndex against a model that keeps every event's location: runs,
// patches (compaction copies, the later winning), truncation.
#include "host/store/event_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace sx::store {
namespace {

struct Loc {
  uint32_t segment;
  uint32_t offset;
};

// Where each model location's bytes lie, per segment: offsets only rise.
class Fixture {
 public:
  explicit Fixture(uint32_t seed) : rng_(seed) {}

  uint32_t Pick(uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng_);
  }

  void Add(uint64_t seq, uint32_t segment, uint32_t size) {
    StreamIndex::Loc loc = Next(segment, size);
    index_.Add(seq, loc);
    model_[seq] = Loc{segment, loc.offset};
  }
  void Patch(uint64_t seq, uint32_t segment, uint32_t size) {
    StreamIndex::Loc loc = Next(segment, size);
    index_.Patch(seq, loc);
    patched_[seq] = Loc{segment, loc.offset};
  }
  void Settle(uint64_t truncated) {
    index_.Settle(truncated);
    for (auto& [seq, loc] : patched_) model_[seq] = loc;
    patched_.clear();
    model_.erase(model_.begin(), model_.upper_bound(truncated));
  }
  void Drop(uint64_t through) {
    index_.DropThrough(through, {});
    model_.erase(model_.begin(), model_.upper_bound(through));
  }

  // Every event found where the model has it, and nothing else indexed.
  void Check(const std::string& context) {
    ASSERT_EQ(index_.events(), model_.size()) << context;
    uint64_t total = 0;
    uint64_t prev = 0;
    for (const EventRun& r : index_.runs()) {
      ASSERT_GT(r.count, 0u) << context;
      ASSERT_TRUE(prev == 0 || r.first > prev) << context << ": runs overlap at " << r.first;
      prev = r.last();
      total += r.count;
      for (uint64_t s = r.first; s <= r.last(); ++s) {
        auto it = model_.find(s);
        ASSERT_NE(it, model_.end()) << context << ": seq " << s << " indexed but not stored";
        EXPECT_EQ(r.segment, it->second.segment) << context << ": seq " << s;
        EXPECT_LE(r.begin, it->second.offset) << context << ": seq " << s;
        EXPECT_LE(it->second.offset, r.end) << context << ": seq " << s;
      }
    }
    EXPECT_EQ(total, model_.size()) << context;
    for (const auto& [seq, loc] : model_) {
      const EventRun* r = index_.Find(seq);
      ASSERT_NE(r, nullptr) << context << ": seq " << seq;
      EXPECT_EQ(r->segment, loc.segment);
    }
    if (!model_.empty()) {
      EXPECT_EQ(index_.first_seq(), model_.begin()->first) << context;
    }
  }

  StreamIndex index_;
  std::map<uint64_t, Loc> model_;
  std::map<uint64_t, Loc> patched_;  // applied at the next Settle

 private:
  // The next event's place in segment: in a new record (other streams'
  // records may lie between), or now and then in the same record as the
  // last one (a batch).
  StreamIndex::Loc Next(uint32_t segment, uint32_t size) {
    uint32_t& at = ends_[segment];
    uint32_t& record = records_[segment];
    if (at == 0) at = 32;
    if (record == 0 || Pick(0, 3) != 0) record = at + Pick(0, 1) * 40;
    uint32_t op = std::max(at, record + 13);
    at = op + 10 + size;
    return StreamIndex::Loc{segment, record, op, op + 10, size};
  }
  std::mt19937 rng_;
  std::map<uint32_t, uint32_t> ends_;
  std::map<uint32_t, uint32_t> records_;
};

TEST(StreamIndex, DenseAppendsInOneSegmentTakeFewRuns) {
  Fixture f(1);
  for (uint64_t seq = 1; seq <= 100000; ++seq) f.Add(seq, 1, 100);
  f.Check("dense");
  // At most 160 bytes of log per event, runs of up to 16 KiB.
  EXPECT_LE(f.index_.runs().size(), 100000 * 160 / (kRunSpanBytes - 200));
  EXPECT_LT(f.index_.MemoryBytes(), 100000u);
}

TEST(StreamIndex, GapsAndSegmentsStartRuns) {
  Fixture f(2);
  f.Add(1, 1, 10);
  f.Add(2, 1, 10);
  f.Add(4, 1, 10);
  f.Add(5, 2, 10);
  f.Check("gaps");
  ASSERT_EQ(f.index_.runs().size(), 3u);
  EXPECT_EQ(f.index_.Find(3), nullptr);
  EXPECT_EQ(f.index_.Lower(3), 1u);
}

TEST(StreamIndex, TruncationCutsARunInTwoByItsSeqs) {
  Fixture f(3);
  for (uint64_t seq = 1; seq <= 50; ++seq) f.Add(seq, 1, 10);
  uint64_t dropped = 0;
  f.index_.DropThrough(20, [&](const EventRun& r) { dropped += r.count; });
  f.model_.erase(f.model_.begin(), f.model_.upper_bound(20));
  EXPECT_EQ(dropped, 20u);
  f.Check("truncated");
  EXPECT_EQ(f.index_.first_seq(), 21u);
}

TEST(StreamIndex, ALaterPatchWinsOverAnEarlierOneAndOverTheRuns) {
  Fixture f(4);
  for (uint64_t seq = 1; seq <= 30; ++seq) f.Add(seq, 1, 10);
  for (uint64_t seq = 5; seq <= 15; ++seq) f.Patch(seq, 2, 10);
  for (uint64_t seq = 10; seq <= 12; ++seq) f.Patch(seq, 3, 10);
  f.Settle(0);
  f.Check("patched");
}

TEST(StreamIndex, RandomOpsMatchTheModel) {
  for (uint32_t seed = 0; seed < 300; ++seed) {
    Fixture f(seed);
    uint64_t last = 0, truncated = 0;
    uint32_t segment = 1;
    for (int step = 0; step < 200; ++step) {
      std::string context = "seed " + std::to_string(seed) + " step " + std::to_string(step);
      uint32_t what = f.Pick(0, 9);
      if (what <= 5) {
        last += f.Pick(0, 4) == 0 ? f.Pick(2, 5) : 1;
        if (f.Pick(0, 20) == 0) ++segment;
        f.Add(last, segment, f.Pick(0, 3000));
      } else if (what <= 7 && !f.model_.empty()) {
        // A compaction copy of a few stored events into a newer segment.
        ++segment;
        auto it = f.model_.begin();
        std::advance(it, f.Pick(0, static_cast<uint32_t>(f.model_.size() - 1)));
        for (int n = f.Pick(1, 30); n > 0 && it != f.model_.end(); --n, ++it) {
          f.Patch(it->first, segment, f.Pick(0, 3000));
        }
        if (f.Pick(0, 1) == 0) f.Settle(truncated);
      } else if (what == 8 && last > truncated) {
        f.Settle(truncated);
        truncated += f.Pick(1, static_cast<uint32_t>(last - truncated));
        f.Drop(truncated);
      } else {
        f.Settle(truncated);
      }
      if (!f.index_.has_patches()) {
        f.Check(context);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace sx::store
