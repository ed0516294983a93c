// Crash tests: thousands of random op sequences on a memory filesystem, cut
// by a power failure or a failing disk at a random point, then reopened.
// After recovery every acknowledged op must be there, the one op in flight
// must be there entirely or not at all, and nothing else.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "host/store/cid.h"
#include "host/store/fault_env.h"
#include "host/store/log_record.h"
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

// Blobs acknowledged so far (cid -> bytes), beside the model: the model
// compares streams and kv only.
using Blobs = std::map<std::string, std::string>;

// Runs one op (a batch, a group, a blob put or a compaction) against store
// and model. Returns false once the store has failed with something other
// than a validation error; *inflight then holds the states the failed op may
// have left if it reached the log: a group is one write of one record per
// batch, so a write cut short may land any prefix of its batches.
bool Step(Store* store, OpGenerator* gen, Model* model, std::vector<Model>* inflight,
          Blobs* blobs) {
  *inflight = {*model};
  size_t what = gen->Uniform(0, 19);
  if (what == 0) {
    Status s = store->Compact();
    return s.ok();
  }
  if (what == 2) {
    std::string bytes = gen->Payload(), cid;
    if (!store->BlobPut(bytes, &cid).ok()) return false;
    (*blobs)[cid] = bytes;
    return true;
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

// Reopens after the cut: every acknowledged op and blob is there, the op in
// flight entirely or not at all, and the store verifies clean.
void ExpectRecovered(MemEnv* env, const Options& options, const Model& acked,
                     const std::vector<Model>& inflight, const Blobs& blobs,
                     const std::string& context) {
  Options o = options;
  o.env = env;
  std::unique_ptr<Store> store;
  Status s = Store::Open(o, "/db", &store);
  ASSERT_TRUE(s.ok()) << context << ": " << s.ToString();
  Model got = testing::Snapshot(store.get());
  bool ok = SameObservable(got, acked);
  for (const Model& m : inflight) ok = ok || SameObservable(got, m);
  ASSERT_TRUE(ok) << context << "\ngot:\n"
                  << testing::Describe(got) << "acked:\n"
                  << testing::Describe(acked) << "inflight (whole):\n"
                  << testing::Describe(inflight.back());
  for (const auto& [cid, bytes] : blobs) {
    std::string read;
    s = store->BlobGet(cid, &read);
    ASSERT_TRUE(s.ok() && read == bytes) << context << ": blob " << cid << ": " << s.ToString();
  }
  std::vector<std::string> problems;
  s = store->Verify([&](const std::string& p) { problems.push_back(p); });
  ASSERT_TRUE(s.ok()) << context << ": verify: " << (problems.empty() ? "" : problems[0]);
  // The recovered store keeps working.
  std::string name = "after-recovery";
  ASSERT_TRUE(store->Append(name, store->LastSeq(name) + 1, "x").ok()) << context;
}

// Whether a segment file of /db was grown past the size it was created at.
bool AnySegmentGrown(MemEnv* env, uint64_t initial) {
  std::vector<std::string> names;
  uint32_t number;
  if (!env->ListDir("/db", &names).ok()) return false;
  for (const std::string& name : names) {
    uint64_t size = 0;
    if (ParseSegmentFileName(name, &number) && env->FileSize("/db/" + name, &size).ok() &&
        size > initial) {
      return true;
    }
  }
  return false;
}

TEST(Crash, PowerCutAtAnyPointKeepsEveryAcknowledgedOp) {
  int fired = 0, compactions = 0, inflight_differs = 0, grown = 0;
  for (int seq = 0; seq < kSequences; ++seq) {
    OpGenerator gen(1000 + seq);
    MemEnv mem;
    FaultEnv fault(&mem);
    Options o = testing::MemOptions(&fault);
    o.compact_live_ratio = 0.6;
    if (seq % 2 == 1) {
      o.segment_bytes = 8192;  // created at 4096, grown once, then rolled
      o.initial_segment_bytes = 4096;
    }
    Model model;
    std::vector<Model> inflight;
    Blobs blobs;
    {
      auto store = testing::OpenOrDie(o, "/db");
      // The disk dies at a random call: it and every later call fail, which
      // is what a power cut at that instant looks like to the program.
      fault.FailAt(gen.Uniform(1, 160), FaultKind::kIOError, /*sticky=*/true);
      inflight = {model};
      for (int i = 0; i < kOpsPerSequence; ++i) {
        if (!Step(store.get(), &gen, &model, &inflight, &blobs)) break;
        inflight = {model};
      }
      fired += fault.fired();
      compactions += store->GetStats().compactions > 0;
      inflight_differs += !SameObservable(model, inflight.back());
    }
    grown += seq % 2 == 1 && AnySegmentGrown(&mem, 4096);
    mem.DropUnsynced();
    ExpectRecovered(&mem, o, model, inflight, blobs, "sequence " + std::to_string(seq));
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The test means something only if the cuts land inside the runs.
  EXPECT_GT(fired, kSequences / 2);
  EXPECT_GT(compactions, kSequences / 10);
  EXPECT_GT(inflight_differs, kSequences / 4);
  EXPECT_GT(grown, kSequences / 10);
  std::printf(
      "power cuts inside the run: %d/%d, with compaction: %d, op in flight: %d, segment grown: "
      "%d\n",
      fired, kSequences, compactions, inflight_differs, grown);
}

TEST(Crash, TransientFaultsLeaveAConsistentStore) {
  const FaultKind kinds[] = {FaultKind::kShortWrite, FaultKind::kNoSpace, FaultKind::kSyncFail,
                             FaultKind::kIOError};
  int fired[4] = {0, 0, 0, 0};  // sequences in which the fault of each kind fired
  for (int seq = 0; seq < kSequences; ++seq) {
    OpGenerator gen(50000 + seq);
    MemEnv mem;
    FaultEnv fault(&mem);
    Options o = testing::MemOptions(&fault);
    if (seq % 2 == 1) {
      o.segment_bytes = 8192;  // created at 4096, grown once, then rolled
      o.initial_segment_bytes = 4096;
    }
    Model model;
    std::vector<Model> inflight;
    Blobs blobs;
    bool power_cut = gen.Uniform(0, 1) == 1;
    {
      auto store = testing::OpenOrDie(o, "/db");
      fault.FailAt(gen.Uniform(1, 160), kinds[seq % 4]);
      inflight = {model};
      bool failed = false;
      for (int i = 0; i < kOpsPerSequence; ++i) {
        Model before = model;
        std::vector<Model> maybe;
        if (!Step(store.get(), &gen, &model, &maybe, &blobs)) {
          // The first failure may have written its op; later ones, refused
          // by the sticky error or failing before any write, did not.
          if (!failed) inflight = maybe;
          failed = true;
          continue;
        }
        if (failed && !SameObservable(model, before)) {
          // A write succeeded after the failure, so the failed op never
          // reached the log (only a segment roll, a blob file or a
          // compaction's delete fails without being sticky).
          inflight = {model};
          failed = false;
        } else if (!failed) {
          inflight = {model};
        }
      }
    }
    fired[seq % 4] += fault.fired();
    if (power_cut) mem.DropUnsynced();
    ExpectRecovered(&mem, o, model, inflight, blobs, "sequence " + std::to_string(seq));
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The test means something only if the faults land inside the runs: most
  // sequences of every kind see theirs.
  for (int k = 0; k < 4; ++k) EXPECT_GT(fired[k], kSequences / 4 / 2) << "fault kind " << k;
  std::printf("transient faults fired: short write %d, no space %d, sync %d, IO %d (of %d each)\n",
              fired[0], fired[1], fired[2], fired[3], kSequences / 4);
}

TEST(Crash, ProcessKillInNeverModeLosesNothingAcknowledged) {
  for (int seq = 0; seq < 200; ++seq) {
    OpGenerator gen(90000 + seq);
    MemEnv mem;
    Options o = testing::MemOptions(&mem, SyncMode::kNever);
    Model model;
    std::vector<Model> inflight;
    Blobs blobs;
    {
      auto store = testing::OpenOrDie(o, "/db");
      for (int i = 0, n = static_cast<int>(gen.Uniform(1, kOpsPerSequence)); i < n; ++i) {
        ASSERT_TRUE(Step(store.get(), &gen, &model, &inflight, &blobs));
      }
    }  // kill -9: what was written stays in the page cache
    ExpectRecovered(&mem, o, model, {model}, blobs, "sequence " + std::to_string(seq));
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
      Blobs blobs;  // in sync=never a power cut may lose any of them
      for (int i = 0, n = static_cast<int>(gen.Uniform(1, kOpsPerSequence)); i < n; ++i) {
        ASSERT_TRUE(Step(store.get(), &gen, &model, &unused, &blobs));
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

// The sweeps below cut the power at every filesystem call of one of the
// multi-step sequences that keep a lost file detectable, and check that
// recovery accepts whatever state the cut leaves, loses nothing that was
// acknowledged, and verifies clean.

// Reopens the store on mem after a cut and checks it verifies clean; the
// notes verify printed go to *notes.
std::unique_ptr<Store> ReopenAndVerify(MemEnv* mem, Options o, const std::string& ctx,
                                       std::vector<std::string>* notes) {
  o.env = mem;
  std::unique_ptr<Store> store;
  Status s = Store::Open(o, "/db", &store);
  EXPECT_TRUE(s.ok()) << ctx << ": " << s.ToString();
  if (!s.ok()) return nullptr;
  std::vector<std::string> problems;
  s = store->Verify(
      [&](const std::string& p) { (p.starts_with("note: ") ? notes : &problems)->push_back(p); });
  EXPECT_TRUE(s.ok()) << ctx << ": " << (problems.empty() ? s.ToString() : problems[0]);
  return store;
}

// The power goes: nothing more reaches the disk, not even the store's own
// close, and whatever was not synced is gone.
void PowerCut(FaultEnv* fault, MemEnv* mem, std::unique_ptr<Store>* store) {
  fault->FailAt(1, FaultKind::kIOError, /*sticky=*/true);
  store->reset();
  mem->DropUnsynced();
}

TEST(Crash, PowerCutAtEveryStepOfASegmentRollLosesNothing) {
  std::string payload(300, 'p');
  // How many appends fit before one rolls to segment 2.
  uint64_t rolls_at = 0;
  {
    MemEnv mem;
    auto store = testing::OpenOrDie(testing::MemOptions(&mem), "/db");
    while (store->GetStats().segments == 1) {
      ASSERT_TRUE(store->Append("s", ++rolls_at, payload).ok());
    }
  }
  int interrupted_rolls = 0;
  for (SyncMode mode : {SyncMode::kAlways, SyncMode::kBatch, SyncMode::kNever}) {
    for (uint64_t k = 1; k <= 12; ++k) {
      std::string ctx =
          "mode " + std::to_string(static_cast<int>(mode)) + " cut at call " + std::to_string(k);
      MemEnv mem;
      FaultEnv fault(&mem);
      Options o = testing::MemOptions(&fault, mode);
      o.batch_ms = 1000;  // acknowledged by Sync below, not by the flusher
      auto store = testing::OpenOrDie(o, "/db");
      for (uint64_t seq = 1; seq < rolls_at; ++seq)
        ASSERT_TRUE(store->Append("s", seq, payload).ok());
      ASSERT_TRUE(store->Sync().ok());
      fault.FailAt(k, FaultKind::kIOError, /*sticky=*/true);
      bool acked = store->Append("s", rolls_at, payload).ok() && store->Sync().ok();
      PowerCut(&fault, &mem, &store);
      SegmentScan first = testing::ScanFile(&mem, "/db", 1);
      SegmentScan second = testing::ScanFile(&mem, "/db", 2);
      if (first.end != SegmentScan::End::kSealed && second.version >= 2) ++interrupted_rolls;
      EXPECT_FALSE(first.end == SegmentScan::End::kSealed && second.version == 0)
          << ctx << ": a sealed segment without a successor";
      std::vector<std::string> notes;
      store = ReopenAndVerify(&mem, o, ctx, &notes);
      ASSERT_TRUE(store) << ctx;
      uint64_t last = store->LastSeq("s");
      EXPECT_GE(last, acked ? rolls_at : rolls_at - 1) << ctx;
      std::vector<Event> events;
      ASSERT_TRUE(store->Read("s", 0, SIZE_MAX, &events).ok()) << ctx;
      ASSERT_EQ(events.size(), last) << ctx;
      for (const Event& e : events) ASSERT_EQ(e.payload, payload) << ctx;
      // Recovery finished the roll: writes go on, and survive another reopen.
      ASSERT_TRUE(store->Append("s", last + 1, payload).ok()) << ctx;
      ASSERT_TRUE(store->Sync().ok()) << ctx;
      store.reset();
      store = ReopenAndVerify(&mem, o, ctx, &notes);
      ASSERT_TRUE(store) << ctx;
      EXPECT_EQ(store->LastSeq("s"), last + 1) << ctx;
      EXPECT_EQ(testing::ScanFile(&mem, "/db", 1).end, SegmentScan::End::kSealed) << ctx;
    }
  }
  // The cut landed between publishing segment 2 and sealing segment 1 in
  // every mode (the seal write and the seal sync).
  EXPECT_GE(interrupted_rolls, 3);
}

TEST(Crash, PowerCutAtEveryStepOfACompactionLosesNothing) {
  int retired_but_present = 0;
  for (uint64_t k = 1; k <= 14; ++k) {
    std::string ctx = "cut at call " + std::to_string(k);
    MemEnv mem;
    FaultEnv fault(&mem);
    Options o = testing::MemOptions(&fault);
    o.auto_compact = false;
    auto store = testing::OpenOrDie(o, "/db");
    std::string cid, payload(200, 'p');
    ASSERT_TRUE(store->BlobPut("a blob whose record is in segment 1", &cid).ok());
    ASSERT_TRUE(store->KvPut("k", "v").ok());
    for (uint64_t seq = 1; seq <= 40; ++seq) ASSERT_TRUE(store->Append("s", seq, payload).ok());
    ASSERT_TRUE(store->TruncateThrough("s", 38).ok());
    ASSERT_GE(store->GetStats().segments, 3u);
    fault.FailAt(k, FaultKind::kIOError, /*sticky=*/true);
    store->Compact().IgnoreError();  // compaction changes nothing a reader sees
    PowerCut(&fault, &mem, &store);
    testing::LoggedFacts facts = testing::ReadLoggedFacts(&mem, "/db");
    for (uint32_t n : facts.retired) {
      uint64_t size;
      retired_but_present += mem.FileSize("/db/" + SegmentFileName(n), &size).ok();
    }
    std::vector<std::string> notes;
    store = ReopenAndVerify(&mem, o, ctx, &notes);
    ASSERT_TRUE(store) << ctx;
    std::string v;
    ASSERT_TRUE(store->BlobGet(cid, &v).ok()) << ctx;
    ASSERT_TRUE(store->KvGet("k", &v).ok()) << ctx;
    EXPECT_EQ(v, "v") << ctx;
    std::vector<Event> events;
    ASSERT_TRUE(store->Read("s", 0, SIZE_MAX, &events).ok()) << ctx;
    ASSERT_EQ(events.size(), 2u) << ctx;
    EXPECT_EQ(events[0].seq, 39u) << ctx;
    EXPECT_EQ(store->LastSeq("s"), 40u) << ctx;
    // A second compaction finishes what the first left.
    ASSERT_TRUE(store->Compact().ok()) << ctx;
    store.reset();
    notes.clear();
    store = ReopenAndVerify(&mem, o, ctx, &notes);
    ASSERT_TRUE(store) << ctx;
    for (const std::string& n : notes) {
      EXPECT_EQ(n.find("retired by compaction but is still there"), std::string::npos) << ctx;
    }
    ASSERT_TRUE(store->BlobGet(cid, &v).ok()) << ctx;
  }
  // The cut landed between the retired record and the delete at least once.
  EXPECT_GT(retired_but_present, 0);
}

TEST(Crash, PowerCutAtEveryStepOfABlobPutNeverLeavesARecordWithoutItsFile) {
  int orphans = 0;
  for (SyncMode mode : {SyncMode::kAlways, SyncMode::kBatch}) {
    for (uint64_t k = 1; k <= 10; ++k) {
      std::string ctx =
          "mode " + std::to_string(static_cast<int>(mode)) + " cut at call " + std::to_string(k);
      MemEnv mem;
      FaultEnv fault(&mem);
      Options o = testing::MemOptions(&fault, mode);
      o.batch_ms = 1000;
      auto store = testing::OpenOrDie(o, "/db");
      std::string first, second, bytes = "the second blob";
      ASSERT_TRUE(store->BlobPut("the first blob", &first).ok());
      ASSERT_TRUE(store->Sync().ok());
      fault.FailAt(k, FaultKind::kIOError, /*sticky=*/true);
      bool acked = store->BlobPut(bytes, &second).ok() && store->Sync().ok();
      second = CidForBytes(bytes);
      PowerCut(&fault, &mem, &store);
      uint64_t size;
      bool file = mem.FileSize("/db/blobs/" + second, &size).ok();
      bool record = testing::ReadLoggedFacts(&mem, "/db").blobs.count(second) > 0;
      EXPECT_TRUE(file || !record) << ctx << ": a blob record without its file";
      orphans += file && !record;
      std::vector<std::string> notes;
      store = ReopenAndVerify(&mem, o, ctx, &notes);  // verify checks every recorded blob
      ASSERT_TRUE(store) << ctx;
      std::string got;
      ASSERT_TRUE(store->BlobGet(first, &got).ok()) << ctx;
      if (acked) {
        EXPECT_TRUE(record) << ctx;
        ASSERT_TRUE(store->BlobGet(second, &got).ok()) << ctx;
        EXPECT_EQ(got, bytes) << ctx;
      }
      // Putting it again records it, whatever the cut left.
      ASSERT_TRUE(store->BlobPut(bytes, &got).ok()) << ctx;
      EXPECT_TRUE(testing::ReadLoggedFacts(&mem, "/db").blobs.count(second)) << ctx;
    }
  }
  // The cut landed between publishing the file and logging it.
  EXPECT_GT(orphans, 0);
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
