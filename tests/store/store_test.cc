// The Store API, op by op, on a memory filesystem (and a few on the real one).
#include "host/store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "host/store/cid.h"
#include "host/store/coding.h"
#include "host/store/fault_env.h"
#include "host/store/log_format.h"
#include "host/store/mem_env.h"
#include "tests/store/test_util.h"

namespace sx::store {
namespace {

using testing::MemOptions;
using testing::OpenOrDie;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    store_ = OpenOrDie(options_, "/db");
  }
  std::vector<Event> ReadAll(const std::string& stream, uint64_t from = 0) {
    std::vector<Event> out;
    Status s = store_->Read(stream, from, SIZE_MAX, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  std::vector<uint64_t> Seqs(const std::string& stream, uint64_t from = 0) {
    std::vector<uint64_t> seqs;
    for (const Event& e : ReadAll(stream, from)) seqs.push_back(e.seq);
    return seqs;
  }

  MemEnv env_;
  Options options_ = MemOptions(&env_);
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, EmptyStoreHasNothing) {
  EXPECT_EQ(store_->LastSeq("s"), 0u);
  EXPECT_TRUE(ReadAll("s").empty());
  EXPECT_TRUE(store_->Streams().empty());
  EXPECT_TRUE(store_->KvKeys().empty());
  std::string v;
  EXPECT_TRUE(store_->KvGet("k", &v).IsNotFound());
}

TEST_F(StoreTest, AppendThenReadReturnsEventsInOrder) {
  ASSERT_TRUE(store_->Append("s", 1, "one").ok());
  ASSERT_TRUE(store_->Append("s", 2, "two").ok());
  ASSERT_TRUE(store_->Append("s", 5, "five").ok());
  auto events = ReadAll("s");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(events[0].payload, "one");
  EXPECT_EQ(events[2].seq, 5u);
  EXPECT_EQ(events[2].payload, "five");
  EXPECT_EQ(store_->LastSeq("s"), 5u);
}

TEST_F(StoreTest, AppendAtOrBelowHwmIsAConflict) {
  ASSERT_TRUE(store_->Append("s", 3, "x").ok());
  Status s = store_->Append("s", 3, "y");
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.expected(), 4u);
  EXPECT_EQ(s.actual(), 3u);
  EXPECT_TRUE(store_->Append("s", 2, "y").IsConflict());
  EXPECT_TRUE(store_->Append("t", 0, "y").IsConflict());
  EXPECT_EQ(ReadAll("s").size(), 1u);
}

TEST_F(StoreTest, ReadFromSeqWithLimit) {
  for (uint64_t i = 1; i <= 50; ++i)
    ASSERT_TRUE(store_->Append("s", i * 2, "e" + std::to_string(i)).ok());
  std::vector<Event> out;
  ASSERT_TRUE(store_->Read("s", 31, 5, &out).ok());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].seq, 32u);
  EXPECT_EQ(out[0].payload, "e16");
  EXPECT_EQ(out[4].seq, 40u);
  ASSERT_TRUE(store_->Read("s", 101, 5, &out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(store_->Read("s", 0, 0, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(StoreTest, EventsSurviveReopenAcrossManySegments) {
  for (uint64_t i = 1; i <= 500; ++i) {
    ASSERT_TRUE(store_->Append("s" + std::to_string(i % 3), i, std::string(i % 97, 'p')).ok());
  }
  EXPECT_GT(store_->GetStats().segments, 5u);
  Reopen();
  for (int k = 0; k < 3; ++k) {
    auto events = ReadAll("s" + std::to_string(k));
    for (const Event& e : events) {
      EXPECT_EQ(e.seq % 3, static_cast<uint64_t>(k));
      EXPECT_EQ(e.payload, std::string(e.seq % 97, 'p'));
    }
  }
  EXPECT_EQ(store_->LastSeq("s2"), 500u);
  EXPECT_EQ(store_->GetStats().events_live, 500u);
}

// The index keeps runs of events; every event is found from any seq, in
// big batches, between other streams' records, after truncation, compaction
// and reopening.
TEST_F(StoreTest, EveryEventIsFoundFromAnySeqThroughBatchesCompactionAndReopen) {
  options_.segment_bytes = 256 << 10;
  Reopen();
  auto payload = [](const std::string& stream, uint64_t seq) {
    return stream + ":" + std::to_string(seq) + std::string(seq % 61, 'p');
  };
  uint64_t a = 0, b = 0;
  for (int round = 0; round < 12; ++round) {
    WriteBatch batch;  // one record of many appends, the other stream between
    for (int i = 0; i < 300; ++i) {
      ++a;
      batch.Append("a", a, payload("a", a));
      if (i % 7 == 0) {
        ++b;
        batch.Append("b", b, payload("b", b));
      }
    }
    ASSERT_TRUE(store_->Commit(batch).ok());
    for (int i = 0; i < 40; ++i) {
      ++a;
      ++b;
      ASSERT_TRUE(store_->Append("a", a, payload("a", a)).ok());
      ASSERT_TRUE(store_->Append("b", b, payload("b", b)).ok());
    }
  }
  uint64_t truncated = 0;
  auto check = [&](const std::string& when) {
    for (const auto& [name, hwm] : {std::pair<std::string, uint64_t>{"a", a}, {"b", b}}) {
      uint64_t first = name == "a" ? truncated + 1 : 1;
      EXPECT_EQ(store_->FirstSeq(name), first) << when;
      for (uint64_t seq = first; seq <= hwm; seq += 13) {
        std::vector<Event> out;
        ASSERT_TRUE(store_->Read(name, seq, 3, &out).ok()) << when;
        ASSERT_EQ(out.size(), std::min<uint64_t>(3, hwm - seq + 1)) << when << " " << seq;
        for (size_t k = 0; k < out.size(); ++k) {
          EXPECT_EQ(out[k].seq, seq + k) << when;
          EXPECT_EQ(out[k].payload, payload(name, seq + k)) << when;
        }
      }
      EXPECT_EQ(ReadAll(name).size(), hwm - first + 1) << when;
    }
    EXPECT_EQ(store_->GetStats().events_live, a - truncated + b) << when;
    std::vector<std::string> problems;
    EXPECT_TRUE(store_->Verify([&](const std::string& p) { problems.push_back(p); }).ok())
        << when << ": " << (problems.empty() ? "" : problems[0]);
  };
  check("written");
  // Far fewer bytes than a location per event would take.
  EXPECT_LT(store_->GetStats().index_bytes, (a + b) * 4) << store_->GetStats().index_bytes;
  Reopen();
  check("reopened");
  truncated = a * 2 / 3;
  ASSERT_TRUE(store_->TruncateThrough("a", truncated).ok());
  check("truncated");
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_GT(store_->GetStats().compactions, 0u);
  check("compacted");
  Reopen();
  check("compacted and reopened");
}

TEST_F(StoreTest, TruncateThroughDropsOldEventsButKeepsHwmAndCatalog) {
  for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(store_->Append("s", i, "x").ok());
  ASSERT_TRUE(store_->TruncateThrough("s", 4).ok());
  EXPECT_EQ(Seqs("s").front(), 5u);
  EXPECT_EQ(store_->FirstSeq("s"), 5u);
  ASSERT_TRUE(store_->TruncateThrough("s", 100).ok());  // clamped to the hwm
  EXPECT_TRUE(ReadAll("s").empty());
  EXPECT_EQ(store_->LastSeq("s"), 10u);
  EXPECT_EQ(store_->Streams(), std::vector<std::string>{"s"});
  ASSERT_TRUE(store_->Append("s", 11, "after").ok());
  Reopen();
  EXPECT_EQ(Seqs("s"), std::vector<uint64_t>{11});
  EXPECT_EQ(store_->LastSeq("s"), 11u);
  EXPECT_TRUE(store_->Append("s", 10, "x").IsConflict());
}

TEST_F(StoreTest, TruncateOfUnknownStreamIsANoOp) {
  ASSERT_TRUE(store_->TruncateThrough("nobody", 5).ok());
  EXPECT_TRUE(store_->Streams().empty());
  ASSERT_TRUE(store_->Append("nobody", 1, "x").ok());
  EXPECT_EQ(Seqs("nobody"), std::vector<uint64_t>{1});
}

TEST_F(StoreTest, StreamsAreSortedAndIncludeFullyTruncatedOnes) {
  ASSERT_TRUE(store_->Append("b", 1, "x").ok());
  ASSERT_TRUE(store_->Append("a", 1, "x").ok());
  ASSERT_TRUE(store_->Append("c", 1, "x").ok());
  ASSERT_TRUE(store_->TruncateThrough("a", 1).ok());
  Reopen();
  EXPECT_EQ(store_->Streams(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(StoreTest, KvPutGetDeleteHasKeys) {
  ASSERT_TRUE(store_->KvPut("k2", "v2").ok());
  ASSERT_TRUE(store_->KvPut("k1", "v1").ok());
  ASSERT_TRUE(store_->KvPut("k1", "v1b").ok());
  std::string v;
  ASSERT_TRUE(store_->KvGet("k1", &v).ok());
  EXPECT_EQ(v, "v1b");
  EXPECT_TRUE(store_->KvHas("k2"));
  EXPECT_EQ(store_->KvKeys(), (std::vector<std::string>{"k1", "k2"}));
  ASSERT_TRUE(store_->KvDelete("k2").ok());
  ASSERT_TRUE(store_->KvDelete("never").ok());
  EXPECT_FALSE(store_->KvHas("k2"));
  Reopen();
  ASSERT_TRUE(store_->KvGet("k1", &v).ok());
  EXPECT_EQ(v, "v1b");
  EXPECT_TRUE(store_->KvGet("k2", &v).IsNotFound());
  EXPECT_EQ(store_->KvKeys(), std::vector<std::string>{"k1"});
}

TEST_F(StoreTest, EmptyValuesAndNamesAreValid) {
  ASSERT_TRUE(store_->KvPut("", "").ok());
  ASSERT_TRUE(store_->Append("", 1, "").ok());
  Reopen();
  std::string v = "junk";
  ASSERT_TRUE(store_->KvGet("", &v).ok());
  EXPECT_EQ(v, "");
  auto events = ReadAll("");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "");
}

TEST_F(StoreTest, AnyBytesNamesAndKeysRoundTrip) {
  std::vector<std::string> names = {"a/b/c",
                                    "../../etc/passwd",
                                    "..",
                                    ".",
                                    std::string("nul\0inside", 10),
                                    std::string(1, '\0'),
                                    "\xff\xfe",
                                    "LOCK",
                                    "0000000001.seg",
                                    "blobs",
                                    std::string(64 * 1024, 'n'),
                                    std::string(65 * 1024, '\x01')};
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(store_->Append(names[i], 1, "event-" + names[i]).ok()) << i;
    ASSERT_TRUE(store_->KvPut(names[i], "value-" + names[i]).ok()) << i;
  }
  Reopen();
  for (const std::string& name : names) {
    auto events = ReadAll(name);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].payload, "event-" + name);
    std::string v;
    ASSERT_TRUE(store_->KvGet(name, &v).ok());
    EXPECT_EQ(v, "value-" + name);
  }
  EXPECT_EQ(store_->Streams().size(), names.size());
  std::vector<std::string> files;
  ASSERT_TRUE(env_.ListDir("/db", &files).ok());
  for (const std::string& f : files) {
    EXPECT_TRUE(f == "LOCK" || f == "STORE" || f == "blobs" || f.ends_with(".seg")) << f;
  }
}

TEST_F(StoreTest, OversizedNameIsInvalidArgument) {
  std::string big(log::kMaxNameBytes + 1, 'x');
  EXPECT_TRUE(store_->Append(big, 1, "x").IsInvalidArgument());
  EXPECT_TRUE(store_->KvPut(big, "x").IsInvalidArgument());
  EXPECT_EQ(store_->LastSeq(big), 0u);
}

TEST_F(StoreTest, LargePayloadGetsItsOwnSegment) {
  std::string big(100000, 'B');
  ASSERT_TRUE(store_->Append("s", 1, big).ok());
  ASSERT_TRUE(store_->Append("s", 2, "small").ok());
  Reopen();
  auto events = ReadAll("s");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].payload, big);
  EXPECT_EQ(events[1].payload, "small");
}

TEST_F(StoreTest, CommitIsAllOrNothing) {
  ASSERT_TRUE(store_->Append("s", 5, "x").ok());
  WriteBatch b;
  b.Append("t", 1, "t1");
  b.KvPut("k", "v");
  b.Append("s", 5, "dup");  // conflict
  Status s = store_->Commit(b);
  ASSERT_TRUE(s.IsConflict());
  EXPECT_EQ(s.expected(), 6u);
  EXPECT_EQ(s.actual(), 5u);
  EXPECT_EQ(store_->LastSeq("t"), 0u);
  EXPECT_FALSE(store_->KvHas("k"));
  EXPECT_TRUE(store_->Streams() == std::vector<std::string>{"s"});
}

TEST_F(StoreTest, CommitAppliesOpsInOrderAcrossStreamsAndKv) {
  WriteBatch b;
  b.Append("a", 1, "a1");
  b.Append("a", 2, "a2");
  b.Append("b", 1, "b1");
  b.KvPut("k", "v1");
  b.KvCas("k", std::string("v1"), std::string("v2"));
  b.TruncateThrough("a", 1);
  ASSERT_TRUE(store_->Commit(b).ok());
  Reopen();
  EXPECT_EQ(Seqs("a"), std::vector<uint64_t>{2});
  EXPECT_EQ(store_->LastSeq("a"), 2u);
  EXPECT_EQ(store_->LastSeq("b"), 1u);
  std::string v;
  ASSERT_TRUE(store_->KvGet("k", &v).ok());
  EXPECT_EQ(v, "v2");
}

TEST_F(StoreTest, AppendExpectChecksTheHwm) {
  WriteBatch ok;
  ok.AppendExpect("s", 0, 1, "first");
  ASSERT_TRUE(store_->Commit(ok).ok());
  WriteBatch stale;
  stale.AppendExpect("s", 0, 2, "second");
  Status s = store_->Commit(stale);
  ASSERT_TRUE(s.IsConflict());
  EXPECT_EQ(s.expected(), 0u);
  EXPECT_EQ(s.actual(), 1u);
  WriteBatch good;
  good.AppendExpect("s", 1, 2, "second");
  ASSERT_TRUE(store_->Commit(good).ok());
  EXPECT_EQ(store_->LastSeq("s"), 2u);
}

TEST_F(StoreTest, KvCasComparesBytes) {
  WriteBatch create;
  create.KvCas("k", std::nullopt, std::string("a\0b", 3));
  ASSERT_TRUE(store_->Commit(create).ok());
  WriteBatch again;
  again.KvCas("k", std::nullopt, std::string("x"));
  EXPECT_TRUE(store_->Commit(again).IsConflict());
  WriteBatch wrong;
  wrong.KvCas("k", std::string("a"), std::string("x"));  // prefix is not equal
  EXPECT_TRUE(store_->Commit(wrong).IsConflict());
  WriteBatch right;
  right.KvCas("k", std::string("a\0b", 3), std::nullopt);  // delete
  ASSERT_TRUE(store_->Commit(right).ok());
  EXPECT_FALSE(store_->KvHas("k"));
  WriteBatch absent;
  absent.KvCas("k", std::string("a"), std::string("x"));
  EXPECT_TRUE(store_->Commit(absent).IsConflict());
}

TEST_F(StoreTest, EmptyBatchWritesNothing) {
  uint64_t before = store_->GetStats().commits;
  ASSERT_TRUE(store_->Commit(WriteBatch()).ok());
  WriteBatch noop;
  noop.KvDelete("absent");
  noop.TruncateThrough("nobody", 3);
  ASSERT_TRUE(store_->Commit(noop).ok());
  EXPECT_EQ(store_->GetStats().commits, before);
}

TEST_F(StoreTest, CommitGroupValidatesEachBatchAgainstTheEarlierOnes) {
  WriteBatch b1, b2, b3, b4;
  b1.Append("s", 1, "one");
  b2.Append("s", 1, "dup");  // conflicts with b1
  b3.AppendExpect("s", 1, 2, "two");
  b4.KvCas("k", std::nullopt, std::string("v"));
  WriteBatch b5;
  b5.KvCas("k", std::nullopt, std::string("w"));  // b4 created it
  const WriteBatch* group[] = {&b1, &b2, &b3, &b4, &b5};
  std::vector<Status> results;
  uint64_t syncs = store_->GetStats().syncs;
  uint64_t commits = store_->GetStats().commits;
  store_->CommitGroup(group, &results);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].IsConflict());
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  EXPECT_TRUE(results[3].ok());
  EXPECT_TRUE(results[4].IsConflict());
  EXPECT_EQ(store_->GetStats().syncs, syncs + 1);
  EXPECT_EQ(store_->GetStats().commits, commits + 1);
  Reopen();
  auto events = ReadAll("s");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].payload, "one");
  EXPECT_EQ(events[1].payload, "two");
  std::string v;
  ASSERT_TRUE(store_->KvGet("k", &v).ok());
  EXPECT_EQ(v, "v");
}

TEST_F(StoreTest, FailedBatchInAGroupLeavesNoTraceForLaterBatches) {
  WriteBatch bad, after;
  bad.KvPut("k", "from-bad");
  bad.Append("s", 0, "invalid seq");
  after.KvCas("k", std::nullopt, std::string("from-after"));
  const WriteBatch* group[] = {&bad, &after};
  std::vector<Status> results;
  store_->CommitGroup(group, &results);
  EXPECT_TRUE(results[0].IsConflict());
  EXPECT_TRUE(results[1].ok()) << results[1].ToString();
  std::string v;
  ASSERT_TRUE(store_->KvGet("k", &v).ok());
  EXPECT_EQ(v, "from-after");
}

TEST_F(StoreTest, SecondOpenerIsLockedOut) {
  std::unique_ptr<Store> second;
  Status s = Store::Open(options_, "/db", &second);
  ASSERT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_NE(s.message().find("store is locked by pid"), std::string::npos);
  store_.reset();
  EXPECT_TRUE(Store::Open(options_, "/db", &second).ok());
}

TEST_F(StoreTest, ReadOnlyOpenRefusesWrites) {
  ASSERT_TRUE(store_->Append("s", 1, "x").ok());
  Options ro = options_;
  ro.read_only = true;
  std::unique_ptr<Store> reader;
  ASSERT_TRUE(Store::Open(ro, "/db", &reader).ok());  // no lock needed
  EXPECT_EQ(reader->LastSeq("s"), 1u);
  EXPECT_TRUE(reader->Append("s", 2, "y").IsInvalidArgument());
  EXPECT_TRUE(reader->KvPut("k", "v").IsInvalidArgument());
}

TEST_F(StoreTest, MissingDirectoryWithoutCreateIsNotFound) {
  Options o = options_;
  o.create_if_missing = false;
  std::unique_ptr<Store> s;
  EXPECT_TRUE(Store::Open(o, "/nowhere", &s).IsNotFound());
}

TEST_F(StoreTest, BlobPutGetHas) {
  std::string cid;
  ASSERT_TRUE(store_->BlobPut("hello world\n", &cid).ok());
  EXPECT_EQ(cid, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
  std::string again;
  ASSERT_TRUE(store_->BlobPut("hello world\n", &again).ok());
  EXPECT_EQ(again, cid);
  EXPECT_TRUE(store_->BlobHas(cid));
  Reopen();
  std::string bytes;
  ASSERT_TRUE(store_->BlobGet(cid, &bytes).ok());
  EXPECT_EQ(bytes, "hello world\n");
  EXPECT_EQ(store_->GetStats().blobs, 1u);
  EXPECT_TRUE(store_->BlobGet(CidForBytes("other"), &bytes).IsNotFound());
  EXPECT_FALSE(store_->BlobHas("bogus"));
  EXPECT_TRUE(store_->BlobGet("../LOCK", &bytes).IsInvalidArgument());
}

TEST_F(StoreTest, CorruptBlobIsDetectedOnRead) {
  std::string cid;
  ASSERT_TRUE(store_->BlobPut(std::string("\0binary\xff", 8), &cid).ok());
  ASSERT_TRUE(env_.SetContents("/db/blobs/" + cid, "tampered").ok());
  std::string bytes;
  EXPECT_TRUE(store_->BlobGet(cid, &bytes).IsCorruption());
}

TEST_F(StoreTest, TruncatedEventsAreReclaimedByCompaction) {
  std::string payload(200, 'p');
  for (uint64_t i = 1; i <= 200; ++i) ASSERT_TRUE(store_->Append("s", i, payload).ok());
  for (uint64_t i = 1; i <= 20; ++i) ASSERT_TRUE(store_->Append("keep", i, "k").ok());
  uint64_t segments_before = store_->GetStats().segments;
  ASSERT_TRUE(store_->TruncateThrough("s", 195).ok());
  ASSERT_TRUE(store_->Compact().ok());
  Store::Stats st = store_->GetStats();
  EXPECT_LT(st.segments, segments_before);
  EXPECT_GT(st.compactions, 0u);
  Reopen();
  EXPECT_EQ(Seqs("s"), (std::vector<uint64_t>{196, 197, 198, 199, 200}));
  EXPECT_EQ(ReadAll("s")[0].payload, payload);
  EXPECT_EQ(Seqs("keep").size(), 20u);
  EXPECT_EQ(store_->LastSeq("s"), 200u);
  EXPECT_EQ(store_->Streams(), (std::vector<std::string>{"keep", "s"}));
}

TEST_F(StoreTest, CatalogAndHwmSurviveCompactingEverything) {
  for (uint64_t i = 1; i <= 100; ++i)
    ASSERT_TRUE(store_->Append("gone", i, std::string(100, 'g')).ok());
  ASSERT_TRUE(store_->TruncateThrough("gone", 100).ok());
  for (int round = 0; round < 3; ++round) ASSERT_TRUE(store_->Compact().ok());
  Reopen();
  EXPECT_EQ(store_->LastSeq("gone"), 100u);
  EXPECT_TRUE(ReadAll("gone").empty());
  EXPECT_EQ(store_->Streams(), std::vector<std::string>{"gone"});
  EXPECT_TRUE(store_->Append("gone", 100, "x").IsConflict());
}

TEST_F(StoreTest, OverwrittenAndDeletedValuesAreReclaimedAndStayDeleted) {
  std::string value(300, 'v');
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 5; ++k)
      ASSERT_TRUE(store_->KvPut("k" + std::to_string(k), value + std::to_string(round)).ok());
  }
  ASSERT_TRUE(store_->KvDelete("k0").ok());
  ASSERT_TRUE(store_->Compact().ok());
  Reopen();
  EXPECT_FALSE(store_->KvHas("k0"));
  std::string v;
  ASSERT_TRUE(store_->KvGet("k3", &v).ok());
  EXPECT_EQ(v, value + "19");
  EXPECT_LE(store_->GetStats().segments, 3u);
}

TEST_F(StoreTest, AutoCompactionKeepsDiskBoundedUnderTruncation) {
  std::string payload(100, 'x');
  uint64_t seq = 0;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store_->Append("s", ++seq, payload).ok());
    ASSERT_TRUE(store_->TruncateThrough("s", seq - 5).ok());
  }
  EXPECT_LT(store_->GetStats().segments, 8u);
  Reopen();
  EXPECT_EQ(Seqs("s").size(), 5u);
  EXPECT_EQ(store_->LastSeq("s"), seq);
}

TEST_F(StoreTest, FailedSyncIsStickyUntilReopen) {
  FaultEnv fault(&env_);
  Options o = MemOptions(&fault);
  store_.reset();
  store_ = OpenOrDie(o, "/db");
  ASSERT_TRUE(store_->Append("s", 1, "ok").ok());
  fault.FailAt(1, FaultKind::kSyncFail);
  Status s = store_->Append("s", 2, "fails");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(store_->Append("s", 3, "refused").IsIOError());
  EXPECT_TRUE(store_->KvPut("k", "refused").IsIOError());
  std::vector<Event> out;
  EXPECT_TRUE(store_->Read("s", 0, 10, &out).ok());  // reads still work
  store_.reset();
  store_ = OpenOrDie(o, "/db");
  EXPECT_TRUE(store_->Append("s", store_->LastSeq("s") + 1, "works again").ok());
  store_.reset();  // closes through fault, before it goes
}

TEST_F(StoreTest, NoSpaceIsReportedAsNoSpace) {
  FaultEnv fault(&env_);
  Options o = MemOptions(&fault);
  store_.reset();
  store_ = OpenOrDie(o, "/db");
  fault.FailAt(1, FaultKind::kNoSpace);
  Status s = store_->Append("s", 1, "x");
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.message().find("append to stream \"s\""), std::string::npos) << s.message();
  store_.reset();  // closes through fault, before it goes
}

TEST_F(StoreTest, SegmentRollFailureIsNotStickyAndRetries) {
  FaultEnv fault(&env_);
  Options o = MemOptions(&fault);
  store_.reset();
  store_ = OpenOrDie(o, "/db");
  std::string payload(1000, 'x');
  uint64_t seq = 0;
  // Fill the first segment, then fail the creation of the next one.
  bool failed = false;
  while (store_->GetStats().segments == 1) {
    // The new file's open, preallocation, then its header: a roll that
    // fails there has written nothing to the old segment.
    fault.FailAt(3, FaultKind::kIOError);
    Status s = store_->Append("s", seq + 1, payload);
    if (s.ok()) {
      ++seq;
      continue;
    }
    failed = true;
    break;
  }
  ASSERT_TRUE(failed);
  fault.Disarm();
  ASSERT_TRUE(store_->Append("s", seq + 1, payload).ok());
  store_.reset();  // closes through fault, before it goes
}

TEST_F(StoreTest, StatsCountWhatIsThere) {
  ASSERT_TRUE(store_->Append("a", 1, "x").ok());
  ASSERT_TRUE(store_->Append("b", 1, "x").ok());
  ASSERT_TRUE(store_->KvPut("k", "v").ok());
  Store::Stats st = store_->GetStats();
  EXPECT_EQ(st.streams, 2u);
  EXPECT_EQ(st.events_live, 2u);
  EXPECT_EQ(st.kv_keys, 1u);
  EXPECT_EQ(st.appends, 2u);
  EXPECT_GE(st.syncs, 3u);
  EXPECT_GT(st.bytes_on_disk, 0u);
}

TEST_F(StoreTest, VerifyPassesOnAHealthyStore) {
  ASSERT_TRUE(store_->Append("a", 1, "x").ok());
  ASSERT_TRUE(store_->KvPut("k", "v").ok());
  std::string cid;
  ASSERT_TRUE(store_->BlobPut("blob", &cid).ok());
  std::vector<std::string> problems;
  EXPECT_TRUE(store_->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  EXPECT_TRUE(problems.empty());
}

TEST_F(StoreTest, BlobPutLogsOneRecordPerBlob) {
  std::string cid;
  ASSERT_TRUE(store_->BlobPut("bytes", &cid).ok());
  uint64_t commits = store_->GetStats().commits;
  ASSERT_TRUE(store_->BlobPut("bytes", &cid).ok());
  EXPECT_EQ(store_->GetStats().commits, commits) << "a put of a recorded blob writes nothing";
  EXPECT_EQ(testing::ReadLoggedFacts(&env_, "/db").blobs, std::set<std::string>{cid});
  Reopen();
  ASSERT_TRUE(store_->BlobPut("bytes", &cid).ok());
  EXPECT_EQ(store_->GetStats().commits, 0u);
}

TEST_F(StoreTest, ARecordedBlobWhoseFileIsGoneIsCorruptionNotAbsence) {
  std::string cid, bytes;
  ASSERT_TRUE(store_->BlobPut("precious", &cid).ok());
  ASSERT_TRUE(env_.DeleteFile("/db/blobs/" + cid).ok());
  Status s = store_->BlobGet(cid, &bytes);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  Reopen();  // opening does not read blobs: the rest of the store stays usable
  EXPECT_TRUE(store_->BlobHas(cid));
  s = store_->BlobGet(cid, &bytes);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.message(), "blob " + cid + " is recorded in the log, but its file is missing");
  std::vector<std::string> problems;
  EXPECT_TRUE(store_->Verify([&](const std::string& p) { problems.push_back(p); }).IsCorruption());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind("blob " + cid + ": ", 0), 0u) << problems[0];
  EXPECT_EQ(store_->GetStats().blobs, 1u);
  ASSERT_TRUE(store_->Append("s", 1, "still writable").ok());
}

TEST_F(StoreTest, ABlobFileWithoutARecordIsReadableAndAPutRecordsIt) {
  // What a put cut short between publishing the file and logging it leaves,
  // and what every blob of a version-1 store looks like.
  std::string bytes = "orphan", cid = CidForBytes(bytes), got;
  ASSERT_TRUE(env_.SetContents("/db/blobs/" + cid, bytes).ok());
  Reopen();
  EXPECT_TRUE(store_->BlobHas(cid));
  ASSERT_TRUE(store_->BlobGet(cid, &got).ok());
  EXPECT_EQ(got, bytes);
  std::vector<std::string> problems;
  EXPECT_TRUE(store_->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(testing::ReadLoggedFacts(&env_, "/db").blobs.empty());
  ASSERT_TRUE(store_->BlobPut(bytes, &got).ok());
  EXPECT_EQ(testing::ReadLoggedFacts(&env_, "/db").blobs, std::set<std::string>{cid});
}

TEST_F(StoreTest, CompactionCarriesBlobRecordsAndRetiresWhatItDeletes) {
  std::string cid;
  ASSERT_TRUE(store_->BlobPut("kept across compactions", &cid).ok());
  std::string payload(200, 'p');
  for (uint64_t i = 1; i <= 60; ++i) ASSERT_TRUE(store_->Append("s", i, payload).ok());
  ASSERT_TRUE(store_->TruncateThrough("s", 58).ok());
  ASSERT_TRUE(store_->Compact().ok());
  testing::LoggedFacts facts = testing::ReadLoggedFacts(&env_, "/db");
  EXPECT_EQ(facts.blobs, std::set<std::string>{cid});
  ASSERT_FALSE(facts.retired.empty());
  for (uint32_t n : facts.retired) {
    uint64_t size;
    EXPECT_TRUE(env_.FileSize("/db/" + SegmentFileName(n), &size).IsNotFound()) << n;
  }
  EXPECT_TRUE(facts.retired.count(1)) << "segment 1, holding the blob record, was compacted";
  // A second round retires more and still names the first round's segments.
  for (uint64_t i = 61; i <= 120; ++i) ASSERT_TRUE(store_->Append("s", i, payload).ok());
  ASSERT_TRUE(store_->TruncateThrough("s", 118).ok());
  ASSERT_TRUE(store_->Compact().ok());
  testing::LoggedFacts later = testing::ReadLoggedFacts(&env_, "/db");
  EXPECT_GT(later.retired.size(), facts.retired.size());
  EXPECT_TRUE(std::includes(later.retired.begin(), later.retired.end(), facts.retired.begin(),
                            facts.retired.end()));
  Reopen();
  std::string bytes;
  ASSERT_TRUE(store_->BlobGet(cid, &bytes).ok());
  std::vector<std::string> problems;
  EXPECT_TRUE(store_->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  EXPECT_TRUE(problems.empty()) << problems[0];
}

TEST_F(StoreTest, ADeletedSegmentThatCompactionDidNotRetireIsRefused) {
  std::string payload(200, 'p');
  for (uint64_t i = 1; i <= 60; ++i) ASSERT_TRUE(store_->Append("s", i, payload).ok());
  ASSERT_TRUE(store_->TruncateThrough("s", 20).ok());
  ASSERT_TRUE(store_->Compact().ok());
  store_.reset();
  std::vector<std::string> names;
  ASSERT_TRUE(env_.ListDir("/db", &names).ok());
  std::sort(names.begin(), names.end());
  std::vector<std::string> segments;
  for (const std::string& n : names) {
    if (n.ends_with(".seg")) segments.push_back(n);
  }
  ASSERT_GE(segments.size(), 3u);
  ASSERT_NE(segments[0], "0000000001.seg") << "the first segments were compacted away";
  std::string lost = segments[1], data;
  ASSERT_TRUE(env_.GetContents("/db/" + lost, &data).ok());
  ASSERT_TRUE(env_.DeleteFile("/db/" + lost).ok());
  std::unique_ptr<Store> store;
  Status s = Store::Open(options_, "/db", &store);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("corruption in " + lost + " at offset 0: the segment file is missing"),
            std::string::npos)
      << s.message();
  ASSERT_TRUE(env_.SetContents("/db/" + lost, data).ok());  // put back: all is well again
  ASSERT_TRUE(Store::Open(options_, "/db", &store).ok());
  EXPECT_EQ(store->LastSeq("s"), 60u);
}

// The worked example of docs/storage-format.md as format version 1 wrote it
// (segment_bytes 4096; the rest of the file is zeros).
constexpr char kVersionOneExample[] =
    "73 78 73 74 6f 72 65 0a 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 bb 20 47 "
    "3d "
    "77 ae 4c c2 15 00 00 00 01 01 00 00 00 01 06 6f 72 64 65 72 73 01 07 7b 3a 69 64 20 37 7d c4 "
    "b5 "
    "d1 4a 12 00 00 00 01 02 00 00 00 02 01 6b 01 76 04 06 6f 72 64 65 72 73 01";

std::string FromHex(const char* hex) {
  std::string out;
  for (const char* p = hex; *p != '\0'; p += p[2] == ' ' ? 3 : 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(p, 2), nullptr, 16)));
  }
  return out;
}

uint32_t HeaderVersion(MemEnv* env, uint32_t number) {
  std::string image;
  EXPECT_TRUE(env->GetContents("/db/" + SegmentFileName(number), &image).ok());
  return image.size() < 12 ? 0 : DecodeFixed32(image.data() + 8);
}

TEST(StoreVersionOne, AVersionOneStoreOpensAndGrowsVersionTwoSegments) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/db").ok());
  std::string v1 = FromHex(kVersionOneExample);
  ASSERT_EQ(v1.size(), 89u);
  v1.resize(4096);
  ASSERT_TRUE(env.SetContents("/db/0000000001.seg", v1).ok());
  Options o = MemOptions(&env);
  o.auto_compact = false;
  auto store = OpenOrDie(o, "/db");
  EXPECT_EQ(store->LastSeq("orders"), 1u);
  EXPECT_EQ(store->FirstSeq("orders"), 2u) << "truncated through 1";
  std::string v;
  ASSERT_TRUE(store->KvGet("k", &v).ok());
  EXPECT_EQ(v, "v");
  std::vector<std::string> problems;
  EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  // New records go on in the version-1 segment; new segments are version 2.
  std::string payload(300, 'x');
  for (uint64_t seq = 2; seq <= 40; ++seq) ASSERT_TRUE(store->Append("orders", seq, payload).ok());
  std::string cid;
  ASSERT_TRUE(store->BlobPut("a blob", &cid).ok());
  EXPECT_GE(store->GetStats().segments, 3u);
  EXPECT_EQ(HeaderVersion(&env, 1), 1u);
  EXPECT_EQ(HeaderVersion(&env, 2), log::kFormatVersion);
  EXPECT_EQ(testing::ScanFile(&env, "/db", 1).end, SegmentScan::End::kSealed);
  store.reset();
  store = OpenOrDie(o, "/db");
  EXPECT_EQ(store->LastSeq("orders"), 40u);
  EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  // Compacting the version-1 segment retires it like any other.
  ASSERT_TRUE(store->TruncateThrough("orders", 39).ok());
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_TRUE(testing::ReadLoggedFacts(&env, "/db").retired.count(1));
  store.reset();
  store = OpenOrDie(o, "/db");
  EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  EXPECT_TRUE(problems.empty()) << problems[0];
  ASSERT_TRUE(store->KvGet("k", &v).ok());
  EXPECT_EQ(v, "v");
}

// Version-1 segments built by hand: header, records, zeros up to 4096.
void PutVersionOneSegment(MemEnv* env, uint32_t number, bool sealed,
                          const std::function<void(RecordBuilder*)>& add) {
  std::string image = testing::VersionOneHeader(number);
  RecordBuilder b(&image);
  add(&b);
  if (sealed) b.AddSegmentEnd(number);
  image.resize(4096);
  ASSERT_TRUE(env->SetContents("/db/" + SegmentFileName(number), image).ok());
}

TEST(StoreVersionOne, GapsAndASealedNewestSegmentFromVersionOneAreAccepted) {
  // Version 1 compacted segments 1, 3 and 4 away without a record, and a
  // crash came after it sealed segment 5 and before it created segment 6.
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/db").ok());
  PutVersionOneSegment(&env, 2, true, [](RecordBuilder* b) {
    b->Begin(log::kCompactionRecord);
    b->AddAppend("s", 1, "one");
    b->AddKvPut("k", "old");
    b->Finish();
  });
  PutVersionOneSegment(&env, 5, true, [](RecordBuilder* b) {
    b->Begin(log::kBatchRecord);
    b->AddAppend("s", 2, "two");
    b->AddKvPut("k", "new");
    b->Finish();
  });
  Options o = MemOptions(&env);
  o.auto_compact = false;
  auto store = OpenOrDie(o, "/db");
  std::vector<Event> events;
  ASSERT_TRUE(store->Read("s", 0, 10, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].payload, "two");
  std::vector<std::string> problems;
  EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  EXPECT_TRUE(problems.empty()) << problems[0];
  // The next write creates segment 6 (version 2).
  ASSERT_TRUE(store->Append("s", 3, "three").ok());
  EXPECT_EQ(HeaderVersion(&env, 6), log::kFormatVersion);
  // The first compaction's retired record adopts the version-1 gaps.
  ASSERT_TRUE(store->TruncateThrough("s", 2).ok());
  ASSERT_TRUE(store->Compact().ok());
  std::set<uint32_t> retired = testing::ReadLoggedFacts(&env, "/db").retired;
  for (uint32_t n : {1u, 3u, 4u}) EXPECT_TRUE(retired.count(n)) << n;
  store.reset();
  store = OpenOrDie(o, "/db");
  EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  EXPECT_TRUE(problems.empty()) << problems[0];
  std::string v;
  ASSERT_TRUE(store->KvGet("k", &v).ok());
  EXPECT_EQ(v, "new");
}

TEST(StoreModes, NeverAndBatchModesHandBytesToTheKernelBeforeReturning) {
  for (SyncMode mode : {SyncMode::kNever, SyncMode::kBatch}) {
    MemEnv env;
    Options o = MemOptions(&env, mode);
    o.batch_ms = 1;
    {
      auto store = OpenOrDie(o, "/db");
      for (uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE(store->Append("s", i, "x").ok());
      // A kill -9 here: no power cut, the kernel keeps what was written.
      std::unique_ptr<Store> second;
      EXPECT_TRUE(Store::Open(o, "/db", &second).IsLocked());
    }
    auto store = OpenOrDie(o, "/db");
    EXPECT_EQ(store->LastSeq("s"), 100u);
  }
}

TEST(StoreModes, BatchModeFlusherSyncsWithinBatchMs) {
  MemEnv env;
  Options o = MemOptions(&env, SyncMode::kBatch);
  o.batch_ms = 5;
  auto store = OpenOrDie(o, "/db");
  ASSERT_TRUE(store->Append("s", 1, "x").ok());
  uint64_t syncs = store->GetStats().syncs;
  for (int i = 0; i < 200 && store->GetStats().syncs == syncs; ++i) usleep(2000);
  EXPECT_GT(store->GetStats().syncs, syncs);
  env.DropUnsynced();  // power cut after the flusher ran
  store.reset();
  store = OpenOrDie(o, "/db");
  EXPECT_EQ(store->LastSeq("s"), 1u);
}

TEST(StorePosix, WorksOnTheRealFilesystemAndLocksAcrossOpens) {
  std::string dir = ::testing::TempDir() + "/sx_store_posix_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  Options o;
  o.segment_bytes = 64 * 1024;
  {
    auto store = OpenOrDie(o, dir);
    ASSERT_TRUE(store->Append("s", 1, "hello").ok());
    std::unique_ptr<Store> second;
    Status s = Store::Open(o, dir, &second);
    ASSERT_TRUE(s.IsLocked()) << s.ToString();
    EXPECT_EQ(s.message(),
              "open " + dir + ": store is locked by pid " + std::to_string(::getpid()));
    std::string cid;
    ASSERT_TRUE(store->BlobPut("hello world\n", &cid).ok());
  }
  {
    auto store = OpenOrDie(o, dir);
    std::vector<Event> out;
    ASSERT_TRUE(store->Read("s", 0, 10, &out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, "hello");
    std::string bytes;
    ASSERT_TRUE(
        store->BlobGet("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4", &bytes).ok());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sx::store
