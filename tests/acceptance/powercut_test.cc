// Power-cut acceptance: the scenario of scripts/crash_test.sh, run through the
// store API on a memory filesystem where a power cut can be simulated exactly.
//
// A writer appends events to one stream and bumps a kv counter, recording
// each value the store acknowledged (in sync=always when the op returns; in
// batch and never modes when a later Sync returns). At a random instant the
// disk stops (a sticky FaultEnv failure, which may land inside any write,
// sync, segment roll or compaction) and the power goes (MemEnv::DropUnsynced).
// The store is reopened and must hold every acknowledged seq with its own
// payload, its seqs contiguous and unique, and a counter at least the last
// acknowledged value. The writer then goes on from what was recovered, and the
// next cut comes: several cuts per run, so recovery of a recovered store is
// tested too.
//
// tests/store/crash_test.cc checks random op mixes against a model; this test
// is the user-level promise, in the shape of the kill -9 harness.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "host/store/fault_env.h"
#include "host/store/mem_env.h"
#include "host/store/store.h"

namespace sx::store {
namespace {

constexpr char kDir[] = "/db";
constexpr char kStream[] = "crash";
constexpr char kCounter[] = "counter";

std::string Payload(uint64_t seq) {
  return "{:data {:n " + std::to_string(seq) + " :pad \"0123456789abcdef\"} :seq " +
         std::to_string(seq) + " :stream \"crash\" :type \"tick\"}";
}

// What the writer may rely on, and what it may have written beyond that.
struct Ledger {
  uint64_t acked_seq = 0;      // every seq up to this one was acknowledged
  uint64_t acked_counter = 0;  // the counter's last acknowledged value
  uint64_t written_seq = 0;    // the highest seq ever handed to the store
  uint64_t written_counter = 0;
  uint64_t acked_truncated = 0;  // last acknowledged truncation point
  // Truncation points handed to the store since the last acknowledgement:
  // after a cut any of them (or none) may have landed.
  std::set<uint64_t> maybe_truncated;
};

struct RunStats {
  int cuts = 0;
  int cuts_inside_ops = 0;
  uint64_t acknowledged = 0;
  uint64_t inflight_landed = 0;
};

// Reopens after a cut and checks the promise. Rebases the ledger on what was
// recovered (it is durable now) so the writer can go on.
void CheckRecovered(Store* store, Ledger* l, RunStats* stats, const std::string& ctx) {
  uint64_t last = store->LastSeq(kStream);
  ASSERT_GE(last, l->acked_seq) << ctx << ": acknowledged seqs lost (hwm below the last ack)";
  ASSERT_LE(last, l->written_seq) << ctx << ": a seq that was never written";
  std::vector<Event> events;
  Status s = store->Read(kStream, 0, SIZE_MAX, &events);
  ASSERT_TRUE(s.ok()) << ctx << ": " << s.ToString();
  uint64_t first = store->FirstSeq(kStream);
  uint64_t truncated = first - 1;
  // The events start just above a truncation point that was acknowledged or
  // in flight; with none stored, FirstSeq is hwm + 1 and the hwm itself must
  // not be above such a point.
  uint64_t newest_truncation = l->acked_truncated;
  if (!l->maybe_truncated.empty()) {
    newest_truncation = std::max(newest_truncation, *l->maybe_truncated.rbegin());
  }
  bool truncation_ok =
      events.empty() ? last <= newest_truncation
                     : truncated == l->acked_truncated || l->maybe_truncated.count(truncated) > 0;
  ASSERT_TRUE(truncation_ok) << ctx << ": events start at " << first << " (hwm " << last
                             << ") but the acknowledged truncation point is " << l->acked_truncated;
  // Contiguous and unique from the truncation point to the hwm, each with
  // its own payload: so every acknowledged seq above the truncation is there.
  ASSERT_EQ(events.size(), last - truncated) << ctx << ": stored events are not contiguous";
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].seq, truncated + 1 + i) << ctx << ": seq out of place at index " << i;
    ASSERT_EQ(events[i].payload, Payload(events[i].seq)) << ctx << ": wrong payload";
  }
  std::string value;
  uint64_t counter = 0;
  s = store->KvGet(kCounter, &value);
  if (s.ok()) {
    counter = std::stoull(value);
  } else {
    ASSERT_TRUE(s.IsNotFound()) << ctx << ": " << s.ToString();
  }
  ASSERT_GE(counter, l->acked_counter) << ctx << ": the counter went back";
  ASSERT_LE(counter, last) << ctx << ": the counter is above the last stored seq";
  if (last > 0) {
    ASSERT_EQ(store->Streams(), std::vector<std::string>{kStream}) << ctx;
  }

  stats->inflight_landed += last - l->acked_seq;
  l->acked_seq = l->written_seq = last;
  l->acked_counter = l->written_counter = counter;
  l->acked_truncated = truncated;
  l->maybe_truncated.clear();
}

// One run: cycles of open, check, write until the cut, cut.
void Run(SyncMode mode, uint32_t seed, int cycles, RunStats* stats) {
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  MemEnv mem;
  Ledger l;
  for (int cycle = 0; cycle <= cycles; ++cycle) {
    std::string ctx = "seed " + std::to_string(seed) + " cycle " + std::to_string(cycle);
    FaultEnv fault(&mem);
    Options o;
    o.env = &fault;
    o.sync = mode;
    o.batch_ms = 1000;       // the flusher never runs within a cycle: acks come from Sync
    o.segment_bytes = 4096;  // rolls and compactions happen often
    std::unique_ptr<Store> store;
    Status s = Store::Open(o, kDir, &store);
    ASSERT_TRUE(s.ok()) << ctx << ": reopening after a power cut failed: " << s.ToString();
    CheckRecovered(store.get(), &l, stats, ctx);
    if (::testing::Test::HasFatalFailure()) return;
    if (cycle == cycles) {
      std::vector<std::string> problems;
      s = store->Verify([&](const std::string& p) { problems.push_back(p); });
      ASSERT_TRUE(s.ok()) << ctx << ": verify: " << s.ToString() << " " << problems.size();
      return;
    }

    // The disk dies at a random call from now on; sometimes later than the
    // writer gets, so the cut falls between ops.
    fault.FailAt(static_cast<uint64_t>(uniform(1, 220)), FaultKind::kIOError, /*sticky=*/true);
    uint64_t pending_seq = l.acked_seq, pending_counter = l.acked_counter;
    uint64_t pending_truncated = l.acked_truncated;
    auto ack = [&] {
      stats->acknowledged += pending_seq - l.acked_seq;
      l.acked_seq = pending_seq;
      l.acked_counter = pending_counter;
      l.acked_truncated = pending_truncated;
      l.maybe_truncated.clear();
    };
    for (int i = 0, steps = uniform(1, 80); i < steps; ++i) {
      int what = uniform(0, 39);
      if (what == 0) {
        // Drop old events now and then, so segments die and get compacted.
        if (l.written_seq < 10) continue;
        uint64_t through = l.written_seq - static_cast<uint64_t>(uniform(3, 9));
        if (through <= pending_truncated) continue;
        l.maybe_truncated.insert(through);
        if (!store->TruncateThrough(kStream, through).ok()) break;
        pending_truncated = through;
      } else if (what == 1) {
        if (!store->Compact().ok()) break;
      } else {
        uint64_t seq = l.written_seq + 1;
        std::string counter = std::to_string(seq);
        l.written_seq = seq;
        if (what % 5 == 0) {
          // Append and counter in one atomic batch.
          WriteBatch b;
          b.Append(kStream, seq, Payload(seq));
          b.KvPut(kCounter, counter);
          l.written_counter = seq;
          if (!store->Commit(b).ok()) break;
          pending_seq = pending_counter = seq;
        } else {
          if (!store->Append(kStream, seq, Payload(seq)).ok()) break;
          pending_seq = seq;
          if (mode == SyncMode::kAlways) ack();
          l.written_counter = seq;
          if (!store->KvPut(kCounter, counter).ok()) break;
          pending_counter = seq;
        }
      }
      if (mode == SyncMode::kAlways) {
        ack();
      } else if (uniform(0, 3) == 0) {
        if (!store->Sync().ok()) break;
        ack();
      }
    }
    stats->cuts++;
    stats->cuts_inside_ops += fault.fired();
    // The power goes: nothing more reaches the disk, not even the store's
    // own close, and whatever was not synced is gone.
    fault.FailAt(1, FaultKind::kIOError, /*sticky=*/true);
    store.reset();
    mem.DropUnsynced();
  }
}

void RunMode(SyncMode mode, const char* name, int runs, uint32_t seed0) {
  RunStats stats;
  for (int r = 0; r < runs; ++r) {
    Run(mode, seed0 + static_cast<uint32_t>(r), 6, &stats);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf(
      "sync=%s: runs %d, power cuts %d (%d inside an op), acknowledged %llu, "
      "unacknowledged that landed %llu, lost 0\n",
      name, runs, stats.cuts, stats.cuts_inside_ops,
      static_cast<unsigned long long>(stats.acknowledged),
      static_cast<unsigned long long>(stats.inflight_landed));
  // The test means something only if cuts land inside the runs and acks accrue.
  EXPECT_GT(stats.cuts_inside_ops, stats.cuts / 3);
  EXPECT_GT(stats.acknowledged, static_cast<uint64_t>(runs) * 10);
}

TEST(PowerCut, SyncAlwaysKeepsEveryAcknowledgedSeqAndCounter) {
  RunMode(SyncMode::kAlways, "always", 1000, 1);
}

TEST(PowerCut, SyncBatchKeepsEverythingAcknowledgedBySync) {
  RunMode(SyncMode::kBatch, "batch", 500, 100001);
}

TEST(PowerCut, SyncNeverKeepsEverythingAcknowledgedBySync) {
  RunMode(SyncMode::kNever, "never", 500, 200001);
}

}  // namespace
}  // namespace sx::store

namespace sx::store {
namespace {

// A disk that fills up (FaultEnv kNoSpace, sticky: every later write fails
// too) at a random call: the failing op reports NoSpace, reads keep working
// and return everything acknowledged, further writes are refused, and once
// space is back a reopened store has every acknowledged write and accepts
// new ones. The bad-input script covers the same through a real tmpfs when
// it may mount one.
TEST(FullDisk, NoSpaceIsReportedAndNothingAcknowledgedIsLost) {
  int reported = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    MemEnv mem;
    FaultEnv fault(&mem);
    Options o;
    o.env = &fault;
    o.segment_bytes = 4096;
    std::string ctx = "seed " + std::to_string(seed);
    uint64_t acked = 0;
    {
      std::unique_ptr<Store> store;
      ASSERT_TRUE(Store::Open(o, kDir, &store).ok()) << ctx;
      fault.FailAt(std::uniform_int_distribution<uint64_t>(1, 120)(rng), FaultKind::kNoSpace,
                   /*sticky=*/true);
      Status failure;
      for (uint64_t seq = 1; seq <= 60; ++seq) {
        Status s = store->Append(kStream, seq, Payload(seq));
        if (s.ok()) s = store->KvPut(kCounter, std::to_string(seq));
        if (!s.ok()) {
          failure = s;
          break;
        }
        acked = seq;
      }
      if (!fault.fired()) continue;
      ++reported;
      ASSERT_TRUE(failure.IsNoSpace() || failure.IsIOError()) << ctx << ": " << failure.ToString();
      // Reads still answer, with every acknowledged event.
      std::vector<Event> events;
      ASSERT_TRUE(store->Read(kStream, 0, SIZE_MAX, &events).ok()) << ctx;
      ASSERT_GE(events.size(), acked) << ctx;
      // Writes stay refused while the disk is full.
      ASSERT_FALSE(store->KvPut("more", "x").ok()) << ctx;
    }
    fault.Disarm();  // space is back
    std::unique_ptr<Store> store;
    Status s = Store::Open(o, kDir, &store);
    ASSERT_TRUE(s.ok()) << ctx << ": " << s.ToString();
    uint64_t last = store->LastSeq(kStream);
    ASSERT_GE(last, acked) << ctx;
    std::vector<Event> events;
    ASSERT_TRUE(store->Read(kStream, 0, SIZE_MAX, &events).ok()) << ctx;
    ASSERT_EQ(events.size(), last) << ctx;
    for (size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].seq, i + 1) << ctx;
      ASSERT_EQ(events[i].payload, Payload(i + 1)) << ctx;
    }
    ASSERT_TRUE(store->Append(kStream, last + 1, Payload(last + 1)).ok()) << ctx;
    std::vector<std::string> problems;
    ASSERT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok()) << ctx;
  }
  EXPECT_GT(reported, 200);
}

}  // namespace
}  // namespace sx::store
