// backend_conformance_test.cc — what every engine behind backend.h does
// alike: each test runs on every engine of engines.h, on a new, empty one.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host/store/cid.h"
#include "tests/backend/engines.h"

namespace sx::backend::testing {
namespace {

class BackendTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sx-backend-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    scratch_ = tmpl;
    Status s = GetParam().open(scratch_, &b_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    b_.reset();
    if (GetParam().remove) GetParam().remove(scratch_);
    std::filesystem::remove_all(scratch_);
  }

  Status Append(const std::string& stream, uint64_t seq, const std::string& payload) {
    WriteBatch w;
    w.Append(stream, seq, payload);
    return b_->Commit(w);
  }
  uint64_t Last(const std::string& stream) {
    uint64_t seq = 99;
    EXPECT_TRUE(b_->LastSeq(stream, &seq).ok());
    return seq;
  }
  uint64_t First(const std::string& stream) {
    uint64_t seq = 99;
    EXPECT_TRUE(b_->FirstSeq(stream, &seq).ok());
    return seq;
  }
  // "seq:payload" of each event with seq >= from, at most limit.
  std::vector<std::string> Read(const std::string& stream, uint64_t from = 0,
                                size_t limit = SIZE_MAX) {
    std::vector<Event> events;
    Status s = b_->Read(stream, from, limit, &events);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<std::string> out;
    for (const Event& e : events) out.push_back(std::to_string(e.seq) + ":" + e.payload);
    return out;
  }
  std::vector<std::string> Streams() {
    std::vector<std::string> out;
    EXPECT_TRUE(b_->Streams(&out).ok());
    return out;
  }
  std::vector<std::string> Keys() {
    std::vector<std::string> out;
    EXPECT_TRUE(b_->KvKeys(&out).ok());
    return out;
  }
  // The key's value, or nullopt when absent (NotFound).
  std::optional<std::string> Get(const std::string& key) {
    std::string v;
    Status s = b_->KvGet(key, &v);
    if (s.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v;
  }
  uint64_t Stat(const std::string& name) {
    Stats stats;
    EXPECT_TRUE(b_->GetStats(&stats).ok());
    for (const auto& [n, v] : stats) {
      if (n == name) return v;
    }
    ADD_FAILURE() << "no stat " << name;
    return 0;
  }
  uint64_t Position() {
    uint64_t p = 0;
    EXPECT_TRUE(b_->CommitPosition(&p).ok());
    return p;
  }
  // The position once it has passed `above`. An engine shared with other
  // sessions (PostgreSQL) shows a commit only when no older transaction is
  // still running, which on a busy server is a moment after it returned.
  uint64_t PositionPast(uint64_t above) {
    uint64_t p = 0;
    EXPECT_TRUE(b_->WaitForCommit(above, 10000, &p).ok());
    EXPECT_GT(p, above) << "the position did not pass " << above << " within 10 s";
    return p;
  }

  std::string scratch_;
  std::unique_ptr<Backend> b_;
};

using Strings = std::vector<std::string>;

TEST_P(BackendTest, ANewEngineIsEmpty) {
  EXPECT_STRNE(b_->kind(), "");
  EXPECT_EQ(Last("s"), 0u);
  EXPECT_EQ(First("s"), 1u);
  EXPECT_EQ(Read("s"), Strings{});
  EXPECT_EQ(Streams(), Strings{});
  EXPECT_EQ(Keys(), Strings{});
  EXPECT_EQ(Get("k"), std::nullopt);
  bool has = true;
  ASSERT_TRUE(b_->KvHas("k", &has).ok());
  EXPECT_FALSE(has);
  std::string bytes;
  EXPECT_TRUE(b_->BlobGet(store::CidForBytes("x"), &bytes).IsNotFound());
  has = true;
  ASSERT_TRUE(b_->BlobHas(store::CidForBytes("x"), &has).ok());
  EXPECT_FALSE(has);
}

TEST_P(BackendTest, AppendsAreReadBackInOrderAndSeqsMayLeaveGaps) {
  ASSERT_TRUE(Append("s", 1, "one").ok());
  ASSERT_TRUE(Append("s", 2, "two").ok());
  ASSERT_TRUE(Append("s", 5, "five").ok());
  EXPECT_EQ(Read("s"), (Strings{"1:one", "2:two", "5:five"}));
  EXPECT_EQ(Last("s"), 5u);
  EXPECT_EQ(First("s"), 1u);
}

TEST_P(BackendTest, ReadTakesFromAndLimit) {
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(Append("s", i, std::to_string(i)).ok());
  EXPECT_EQ(Read("s", 3), (Strings{"3:3", "4:4", "5:5"}));
  EXPECT_EQ(Read("s", 2, 2), (Strings{"2:2", "3:3"}));
  EXPECT_EQ(Read("s", 0, 0), Strings{});
  EXPECT_EQ(Read("s", 6), Strings{});
}

TEST_P(BackendTest, AnAppendNotAboveTheHwmIsAConflictWithTheHwm) {
  ASSERT_TRUE(Append("s", 3, "a").ok());
  Status s = Append("s", 3, "b");
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.expected(), 4u);
  EXPECT_EQ(s.actual(), 3u);
  EXPECT_TRUE(Append("s", 2, "c").IsConflict());
  EXPECT_EQ(Read("s"), Strings{"3:a"});
}

TEST_P(BackendTest, AppendExpectNeedsTheHwmToBeItsExpectedLastSeq) {
  WriteBatch first;
  first.AppendExpect("s", 0, 1, "a");
  ASSERT_TRUE(b_->Commit(first).ok());
  WriteBatch stale;
  stale.AppendExpect("s", 0, 2, "b");
  Status s = b_->Commit(stale);
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.expected(), 0u);
  EXPECT_EQ(s.actual(), 1u);
  // Expecting the hwm but carrying a seq not above it: refused too.
  WriteBatch low;
  low.AppendExpect("s", 1, 1, "c");
  s = b_->Commit(low);
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.expected(), 2u) << "refused as an append is: hwm + 1";
  EXPECT_EQ(s.actual(), 1u);
  EXPECT_EQ(Read("s"), Strings{"1:a"});
}

TEST_P(BackendTest, ABatchIsAllOrNothing) {
  WriteBatch w;
  w.Append("a", 1, "x");
  w.KvPut("k", "v");
  w.Append("b", 1, "y");
  w.Append("b", 1, "dup");  // refused: not above the hwm the op before leaves
  Status s = b_->Commit(w);
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.actual(), 1u);
  EXPECT_EQ(Last("a"), 0u);
  EXPECT_EQ(Last("b"), 0u);
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(Streams(), Strings{});
}

TEST_P(BackendTest, EachOpOfABatchIsCheckedAgainstWhatTheEarlierOnesLeave) {
  WriteBatch w;
  w.Append("s", 1, "a");
  w.AppendExpect("s", 1, 2, "b");
  w.KvCas("k", std::nullopt, "1");
  w.KvCas("k", "1", "2");
  ASSERT_TRUE(b_->Commit(w).ok());
  EXPECT_EQ(Read("s"), (Strings{"1:a", "2:b"}));
  EXPECT_EQ(Get("k"), "2");
}

TEST_P(BackendTest, AGroupChecksEachBatchAgainstTheAcceptedOnesBeforeIt) {
  WriteBatch b1, b2, b3, b4;
  b1.Append("s", 1, "first");
  b2.Append("s", 1, "same seq");  // conflicts with b1
  b3.AppendExpect("s", 1, 2, "second");
  b4.KvCas("k", "nope", "v");  // conflicts: k is absent
  const WriteBatch* group[] = {&b1, &b2, &b3, &b4};
  std::vector<Status> results;
  b_->CommitGroup(group, &results);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  ASSERT_TRUE(results[1].IsConflict()) << results[1].ToString();
  EXPECT_EQ(results[1].actual(), 1u);
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  EXPECT_TRUE(results[3].IsConflict()) << results[3].ToString();
  EXPECT_EQ(Read("s"), (Strings{"1:first", "2:second"}));
  EXPECT_EQ(Get("k"), std::nullopt);
}

TEST_P(BackendTest, AnEmptyGroupAndEmptyBatchesCommitNothing) {
  std::vector<Status> results;
  b_->CommitGroup({}, &results);
  EXPECT_TRUE(results.empty());
  WriteBatch empty;
  EXPECT_TRUE(b_->Commit(empty).ok());
  EXPECT_EQ(Streams(), Strings{});
}

TEST_P(BackendTest, KvPutGetDeleteAndKeysInByteOrder) {
  WriteBatch w;
  w.KvPut("b", "2");
  w.KvPut("a", "1");
  w.KvPut(std::string("a\0z", 3), std::string("nul\0byte", 8));
  w.KvPut("\xff", "high");
  ASSERT_TRUE(b_->Commit(w).ok());
  EXPECT_EQ(Keys(), (Strings{"a", std::string("a\0z", 3), "b", "\xff"}));
  EXPECT_EQ(Get(std::string("a\0z", 3)), std::string("nul\0byte", 8));
  bool has = false;
  ASSERT_TRUE(b_->KvHas("b", &has).ok());
  EXPECT_TRUE(has);
  WriteBatch del;
  del.KvDelete("b");
  del.KvDelete("never-there");
  ASSERT_TRUE(b_->Commit(del).ok());
  EXPECT_EQ(Get("b"), std::nullopt);
  ASSERT_TRUE(b_->KvHas("b", &has).ok());
  EXPECT_FALSE(has);
  WriteBatch put;
  put.KvPut("a", "replaced");
  ASSERT_TRUE(b_->Commit(put).ok());
  EXPECT_EQ(Get("a"), "replaced");
}

TEST_P(BackendTest, KvCasComparesBytesAndCanDelete) {
  WriteBatch absent;
  absent.KvCas("k", std::nullopt, "v1");
  ASSERT_TRUE(b_->Commit(absent).ok());
  WriteBatch again;
  again.KvCas("k", std::nullopt, "v2");
  EXPECT_TRUE(b_->Commit(again).IsConflict());
  WriteBatch wrong;
  wrong.KvCas("k", "v1 ", "v2");  // one byte more: not equal
  Status s = b_->Commit(wrong);
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.expected(), 0u) << "a refused KvCas carries no seqs";
  EXPECT_EQ(s.actual(), 0u);
  EXPECT_EQ(Get("k"), "v1");
  WriteBatch right;
  right.KvCas("k", "v1", "v2");
  ASSERT_TRUE(b_->Commit(right).ok());
  EXPECT_EQ(Get("k"), "v2");
  WriteBatch remove;
  remove.KvCas("k", "v2", std::nullopt);
  ASSERT_TRUE(b_->Commit(remove).ok());
  EXPECT_EQ(Get("k"), std::nullopt);
}

TEST_P(BackendTest, TruncationDropsEventsAndKeepsTheHwmAndTheStream) {
  for (uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(Append("s", i, std::to_string(i)).ok());
  WriteBatch t;
  t.TruncateThrough("s", 2);
  ASSERT_TRUE(b_->Commit(t).ok());
  EXPECT_EQ(Read("s"), (Strings{"3:3", "4:4"}));
  EXPECT_EQ(First("s"), 3u);
  EXPECT_EQ(Last("s"), 4u);
  WriteBatch all;
  all.TruncateThrough("s", 100);  // clamped to the hwm
  ASSERT_TRUE(b_->Commit(all).ok());
  EXPECT_EQ(Read("s"), Strings{});
  EXPECT_EQ(Last("s"), 4u);
  EXPECT_EQ(First("s"), 5u);
  EXPECT_EQ(Streams(), Strings{"s"});
  EXPECT_TRUE(Append("s", 4, "again").IsConflict());
  ASSERT_TRUE(Append("s", 5, "5").ok());
  EXPECT_EQ(Read("s"), Strings{"5:5"});
}

TEST_P(BackendTest, LastSeqsAnswersWhatLastSeqDoesForEachStream) {
  // A stream with gaps, one truncated whole (its hwm stays), one never
  // appended to, a name with a NUL byte, and one asked twice.
  std::string nul("a\0b", 3);
  ASSERT_TRUE(Append("gaps", 1, "1").ok());
  ASSERT_TRUE(Append("gaps", 7, "7").ok());
  ASSERT_TRUE(Append("gone", 3, "3").ok());
  WriteBatch t;
  t.TruncateThrough("gone", 3);
  ASSERT_TRUE(b_->Commit(t).ok());
  ASSERT_TRUE(Append(nul, 2, "2").ok());
  Strings streams = {"gaps", "never", "gone", nul, "gaps"};
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(b_->LastSeqs(streams, &seqs).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{7, 0, 3, 2, 7}));
  for (size_t i = 0; i < streams.size(); ++i) EXPECT_EQ(seqs[i], Last(streams[i])) << i;
  ASSERT_TRUE(b_->LastSeqs({}, &seqs).ok());
  EXPECT_TRUE(seqs.empty());
}

TEST_P(BackendTest, TruncatingAStreamNeverAppendedToLeavesNoTrace) {
  WriteBatch t;
  t.TruncateThrough("ghost", 3);
  ASSERT_TRUE(b_->Commit(t).ok());
  EXPECT_EQ(Streams(), Strings{});
  EXPECT_EQ(Last("ghost"), 0u);
}

TEST_P(BackendTest, StreamsAreEveryStreamAppendedToInByteOrder) {
  std::string nul("s\0t", 3);
  for (const std::string& name : {std::string("b"), std::string("\xff"), nul, std::string("a")}) {
    ASSERT_TRUE(Append(name, 1, "x").ok());
  }
  EXPECT_EQ(Streams(), (Strings{"a", "b", nul, "\xff"}));
  EXPECT_EQ(Read(nul), Strings{"1:x"});
  EXPECT_EQ(Last("s"), 0u) << "a name with a NUL is not cut at it";
}

TEST_P(BackendTest, ANameOverTheLimitIsRefusedAndNothingIsWritten) {
  WriteBatch w;
  w.KvPut("ok", "1");
  w.Append(std::string((1u << 20) + 1, 'n'), 1, "x");
  Status s = b_->Commit(w);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(Get("ok"), std::nullopt);
  EXPECT_EQ(Streams(), Strings{});
}

TEST_P(BackendTest, BlobsAreNamedByTheirContent) {
  std::string bytes("blob\0bytes", 10);
  std::string cid;
  ASSERT_TRUE(b_->BlobPut(bytes, &cid).ok());
  EXPECT_EQ(cid, store::CidForBytes(bytes));
  std::string again;
  ASSERT_TRUE(b_->BlobPut(bytes, &again).ok());
  EXPECT_EQ(again, cid);
  std::string got;
  ASSERT_TRUE(b_->BlobGet(cid, &got).ok());
  EXPECT_EQ(got, bytes);
  bool has = false;
  ASSERT_TRUE(b_->BlobHas(cid, &has).ok());
  EXPECT_TRUE(has);
  EXPECT_EQ(Stat("blobs"), 1u) << "the same bytes are stored once";
}

TEST_P(BackendTest, SyncAndCompactKeepEverything) {
  ASSERT_TRUE(Append("s", 1, "a").ok());
  ASSERT_TRUE(Append("s", 2, "b").ok());
  WriteBatch w;
  w.TruncateThrough("s", 1);
  w.KvPut("k", "v");
  ASSERT_TRUE(b_->Commit(w).ok());
  ASSERT_TRUE(b_->Sync().ok());
  ASSERT_TRUE(b_->Compact().ok());
  EXPECT_EQ(Read("s"), Strings{"2:b"});
  EXPECT_EQ(Last("s"), 2u);
  EXPECT_EQ(Get("k"), "v");
}

TEST_P(BackendTest, StatsCountStreamsEventsKeysAndBlobs) {
  ASSERT_TRUE(Append("a", 1, "x").ok());
  ASSERT_TRUE(Append("a", 2, "y").ok());
  ASSERT_TRUE(Append("b", 1, "z").ok());
  WriteBatch w;
  w.TruncateThrough("a", 1);
  w.KvPut("k1", "1");
  w.KvPut("k2", "2");
  ASSERT_TRUE(b_->Commit(w).ok());
  std::string cid;
  ASSERT_TRUE(b_->BlobPut("bytes", &cid).ok());
  EXPECT_EQ(Stat("streams"), 2u);
  EXPECT_EQ(Stat("events"), 2u);
  EXPECT_EQ(Stat("kv-keys"), 2u);
  EXPECT_EQ(Stat("blobs"), 1u);
  EXPECT_EQ(Stat("appends"), 3u);
}

TEST_P(BackendTest, TheCommitPositionRisesWithEveryCommitThatChangesSomething) {
  uint64_t start = Position();
  ASSERT_TRUE(Append("s", 1, "a").ok());
  uint64_t after_append = PositionPast(start);
  EXPECT_TRUE(Append("s", 1, "refused").IsConflict());
  EXPECT_EQ(Position(), after_append) << "a refused commit changes nothing";
  WriteBatch w;
  w.KvPut("k", "v");
  ASSERT_TRUE(b_->Commit(w).ok());
  PositionPast(after_append);
}

TEST_P(BackendTest, WaitForCommitReturnsAtOnceWhenThePositionHasPassed) {
  uint64_t seen = Position();
  ASSERT_TRUE(Append("s", 1, "a").ok());
  uint64_t now = 0;
  // A long timeout: the test would hang, not pass, if the wait ignored the
  // position.
  ASSERT_TRUE(b_->WaitForCommit(seen, 600000, &now).ok());
  EXPECT_GT(now, seen);
  EXPECT_EQ(now, Position());
}

TEST_P(BackendTest, WaitForCommitWithNoTimeoutAnswersThePositionNow) {
  uint64_t start = Position();
  ASSERT_TRUE(Append("s", 1, "a").ok());
  uint64_t pos = PositionPast(start);
  uint64_t now = 0;
  ASSERT_TRUE(b_->WaitForCommit(pos, 0, &now).ok());
  EXPECT_EQ(now, pos);
  ASSERT_TRUE(b_->WaitForCommit(pos, 20, &now).ok());
  EXPECT_EQ(now, pos) << "nothing committed while waiting";
}

INSTANTIATE_TEST_SUITE_P(Engines, BackendTest, ::testing::ValuesIn(Engines()),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace sx::backend::testing
