// Crash tests: thousands of random op sequences on a memory filesystem, cut
// by a power failure or a failing disk at a random point, then reopened.
// After recovery every acknowledged op must be there, the one op in flight
// must be there entirely or not at all, and nothing else.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "host/store/fault_env.h"
#include "host/store/mem_env.h"
#include "host/store/store.h"
#include "tests/store/model.h"
#include "tests/store/test_util.h"

namespace sx::store {
namespace {

using testing::Model;
using testing::OpGenerator;
using testing::SameObservable;

constexpr int kSequences = 1000;
constexpr int kOpsPerSequence = 40;

// Runs one op (a batch, a group, or a compaction) against store and model.
// Returns false once the store has failed with something other than a
// validation error; *inflight then holds the states the failed op may have
// left if it reached the log: a group is one write of one record per batch,
// so a write cut short may land any prefix of its batches.
bool Step(Store* store, OpGenerator* gen, Model* model, std::vector<Model>* inflight) {
  *inflight = {*model};
  size_t what = gen->Uniform(0, 19);
  if (what == 0) {
    Status s = store->Compact();
    return s.ok();
  }
  if (what == 1) {
    // A group of batches: one write, one sync.
    std::vector<WriteBatch> batches;
    Model expect = *model;
    std::vector<bool> valid;
    std::vector<Model> prefixes;
    for (size_t i = 0, n = gen->Uniform(2, 4); i < n; ++i) {
      batches.push_back(gen->Next(expect));
      valid.push_back(expect.Apply(batches.back()));
      if (valid.back()) prefixes.push_back(expect);
    }
    std::vector<const WriteBatch*> ptrs;
    for (const WriteBatch& b : batches) ptrs.push_back(&b);
    std::vector<Status> results;
    store->CommitGroup(ptrs, &results);
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].ok() && !results[i].IsConflict()) {
        inflight->insert(inflight->end(), prefixes.begin(), prefixes.end());
        return false;
      }
      EXPECT_EQ(results[i].ok(), valid[i]) << results[i].ToString();
    }
    *model = expect;
    return true;
  }
  WriteBatch b = gen->Next(*model);
  Model expect = *model;
  bool valid = expect.Apply(b);
  Status s;
  if (b.size() == 1 && b.ops()[0].kind == WriteBatch::OpKind::kAppend) {
    const auto& op = b.ops()[0];
    s = store->Append(op.name, op.seq, *op.value);
  } else {
    s = store->Commit(b);
  }
  if (!s.ok() && !s.IsConflict()) {
    inflight->push_back(expect);
    return false;
  }
  EXPECT_EQ(s.ok(), valid) << s.ToString();
  if (s.ok()) *model = expect;
  return true;
}

void ExpectRecovered(MemEnv* env, const Options& options, const Model& acked,
                     const std::vector<Model>& inflight, const std::string& context) {
  Options o = options;
  o.env = env;
  std::unique_ptr<Store> store;
  Status s = Store::Open(o, "/db", &store);
  ASSERT_TRUE(s.ok()) << context << ": " << s.ToString();
  Model got = testing::Snapshot(store.get());
  bool ok = SameObservable(got, acked);
  for (const Model& m : inflight) ok = ok || SameObservable(got, m);
  ASSERT_TRUE(ok) << context << "\ngot:\n" << testing::Describe(got) << "acked:\n"
                  << testing::Describe(acked) << "inflight (whole):\n"
                  << testing::Describe(inflight.back());
  // The recovered store keeps working.
  std::string name = "after-recovery";
  ASSERT_TRUE(store->Append(name, store->LastSeq(name) + 1, "x").ok()) << context;
}

TEST(Crash, PowerCutAtAnyPointKeepsEveryAcknowledgedOp) {
  int fired = 0, compactions = 0, inflight_differs = 0;
  for (int seq = 0; seq < kSequences; ++seq) {
    OpGenerator gen(1000 + seq);
    MemEnv mem;
    FaultEnv fault(&mem);
    Options o = testing::MemOptions(&fault);
    o.compact_live_ratio = 0.6;
    Model model;
    std::vector<Model> inflight;
    {
      auto store = testing::OpenOrDie(o, "/db");
      // The disk dies at a random call: it and every later call fail, which
      // is what a power cut at that instant looks like to the program.
      fault.FailAt(gen.Uniform(1, 160), FaultKind::kIOError, /*sticky=*/true);
      inflight = {model};
      for (int i = 0; i < kOpsPerSequence; ++i) {
        if (!Step(store.get(), &gen, &model, &inflight)) break;
        inflight = {model};
      }
      fired += fault.fired();
      compactions += store->GetStats().compactions > 0;
      inflight_differs += !SameObservable(model, inflight.back());
    }
    mem.DropUnsynced();
    ExpectRecovered(&mem, o, model, inflight, "sequence " + std::to_string(seq));
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The test means something only if the cuts land inside the runs.
  EXPECT_GT(fired, kSequences / 2);
  EXPECT_GT(compactions, kSequences / 10);
  EXPECT_GT(inflight_differs, kSequences / 4);
  std::printf("power cuts inside the run: %d/%d, with compaction: %d, op in flight: %d\n", fired,
              kSequences, compactions, inflight_differs);
}

TEST(Crash, TransientFaultsLeaveAConsistentStore) {
  const FaultKind kinds[] = {FaultKind::kShortWrite, FaultKind::kNoSpace, FaultKind::kSyncFail,
                             FaultKind::kIOError};
  for (int seq = 0; seq < kSequences; ++seq) {
    OpGenerator gen(50000 + seq);
    MemEnv mem;
    FaultEnv fault(&mem);
    Options o = testing::MemOptions(&fault);
    Model model;
    std::vector<Model> inflight;
    bool power_cut = gen.Uniform(0, 1) == 1;
    {
      auto store = testing::OpenOrDie(o, "/db");
      fault.FailAt(gen.Uniform(1, 160), kinds[seq % 4]);
      inflight = {model};
      bool failed = false;
      for (int i = 0; i < kOpsPerSequence; ++i) {
        Model before = model;
        std::vector<Model> maybe;
        if (!Step(store.get(), &gen, &model, &maybe)) {
          // The first failure may have written its op; later ones, refused
          // by the sticky error or failing before any write, did not.
          if (!failed) inflight = maybe;
          failed = true;
          continue;
        }
        if (failed && !SameObservable(model, before)) {
          // A write succeeded after the failure, so the failed op never
          // reached the log (only a segment roll or a compaction's delete
          // fails without being sticky).
          inflight = {model};
          failed = false;
        } else if (!failed) {
          inflight = {model};
        }
      }
    }
    if (power_cut) mem.DropUnsynced();
    ExpectRecovered(&mem, o, model, inflight, "sequence " + std::to_string(seq));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Crash, ProcessKillInNeverModeLosesNothingAcknowledged) {
  for (int seq = 0; seq < 200; ++seq) {
    OpGenerator gen(90000 + seq);
    MemEnv mem;
    Options o = testing::MemOptions(&mem, SyncMode::kNever);
    Model model;
    std::vector<Model> inflight;
    {
      auto store = testing::OpenOrDie(o, "/db");
      for (int i = 0, n = static_cast<int>(gen.Uniform(1, kOpsPerSequence)); i < n; ++i) {
        ASSERT_TRUE(Step(store.get(), &gen, &model, &inflight));
      }
    }  // kill -9: what was written stays in the page cache
    ExpectRecovered(&mem, o, model, {model}, "sequence " + std::to_string(seq));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Crash, PowerCutInNeverModeRecoversAPrefixOfTheHistory) {
  for (int seq = 0; seq < 200; ++seq) {
    OpGenerator gen(70000 + seq);
    MemEnv mem;
    Options o = testing::MemOptions(&mem, SyncMode::kNever);
    o.auto_compact = false;
    std::vector<Model> history(1);
    {
      auto store = testing::OpenOrDie(o, "/db");
      Model model;
      std::vector<Model> unused;
      for (int i = 0, n = static_cast<int>(gen.Uniform(1, kOpsPerSequence)); i < n; ++i) {
        ASSERT_TRUE(Step(store.get(), &gen, &model, &unused));
        history.push_back(model);
        if (gen.Uniform(0, 9) == 0) {
          ASSERT_TRUE(store->Sync().ok());
        }
      }
    }
    mem.DropUnsynced();
    std::unique_ptr<Store> store;
    Status s = Store::Open(o, "/db", &store);
    ASSERT_TRUE(s.ok()) << s.ToString();
    Model got = testing::Snapshot(store.get());
    bool found = false;
    for (const Model& m : history) found = found || SameObservable(got, m);
    ASSERT_TRUE(found) << "sequence " << seq << ": not a prefix of the history\n"
                       << testing::Describe(got);
  }
}

TEST(Crash, FailedUnlinkInCompactionKeepsTheDeletesThatHideItsValues) {
  int unlink_failures = 0;
  for (uint64_t k = 1; k <= 8; ++k) {
    std::string ctx = "fault at call " + std::to_string(k);
    MemEnv mem;
    FaultEnv fault(&mem);
    Options o = testing::MemOptions(&fault);
    o.auto_compact = false;
    auto store = testing::OpenOrDie(o, "/db");
    std::string payload(700, 'p');
    uint64_t seq = 0;
    ASSERT_TRUE(store->KvPut("k", "hidden by a delete").ok());
    while (store->GetStats().segments < 2) ASSERT_TRUE(store->Append("s", ++seq, payload).ok());
    ASSERT_TRUE(store->KvDelete("k").ok());  // in segment 2
    while (store->GetStats().segments < 3) ASSERT_TRUE(store->Append("s", ++seq, payload).ok());
    ASSERT_TRUE(store->TruncateThrough("s", seq).ok());
    // One failing call (not sticky) in the first compaction; the second
    // compacts what is left.
    fault.FailAt(k, FaultKind::kIOError);
    Status s = store->Compact();
    fault.Disarm();
    EXPECT_TRUE(s.ok() || s.IsIOError()) << ctx << ": " << s.ToString();
    unlink_failures += s.message().find("unlink /db/0000000001.seg") != std::string::npos;
    if (!store->Sync().ok()) {
      // A failed write or sync is sticky: reopen, as a user would. A failed
      // unlink is not, and the same store goes on.
      store.reset();
      store = testing::OpenOrDie(o, "/db");
    }
    ASSERT_TRUE(store->Compact().ok()) << ctx;
    store.reset();
    store = testing::OpenOrDie(o, "/db");
    EXPECT_FALSE(store->KvHas("k")) << ctx << ": a deleted key came back";
  }
  EXPECT_GT(unlink_failures, 0);
}

}  // namespace
}  // namespace sx::store
