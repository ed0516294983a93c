// Readers beside a writer: a store opened read-only while another Store
// writes the same directory sees a committed prefix and catches up with
// Refresh, across segment rolls and compactions.
#include <gtest/gtest.h>

#include "tests/store/test_util.h"

namespace sx::store {
namespace {

using testing::MemOptions;
using testing::OpenOrDie;

Options ReaderOptions(Env* env) {
  Options o = MemOptions(env);
  o.read_only = true;
  return o;
}

std::vector<uint64_t> Seqs(Store* s, const std::string& stream) {
  std::vector<Event> events;
  EXPECT_TRUE(s->Read(stream, 0, SIZE_MAX, &events).ok());
  std::vector<uint64_t> seqs;
  for (const Event& e : events) seqs.push_back(e.seq);
  return seqs;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

TEST(StoreReader, SeesTheCommittedPrefixAndCatchesUpOnRefresh) {
  MemEnv env;
  auto writer = OpenOrDie(MemOptions(&env), "/s");
  ASSERT_TRUE(writer->Append("a", 1, "one").ok());
  auto reader = OpenOrDie(ReaderOptions(&env), "/s");
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, 1));
  ASSERT_TRUE(writer->Append("a", 2, "two").ok());
  ASSERT_TRUE(writer->KvPut("k", "v").ok());
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, 1));  // not until it looks
  bool changed = false;
  ASSERT_TRUE(reader->Refresh(&changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, 2));
  std::string v;
  ASSERT_TRUE(reader->KvGet("k", &v).ok());
  EXPECT_EQ(v, "v");
  ASSERT_TRUE(reader->Refresh(&changed).ok());
  EXPECT_FALSE(changed);
}

TEST(StoreReader, WritesAreRefusedAndNameTheReadOnlyStore) {
  MemEnv env;
  { auto writer = OpenOrDie(MemOptions(&env), "/s"); }
  auto reader = OpenOrDie(ReaderOptions(&env), "/s");
  Status s = reader->Append("a", 1, "x");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("read-only"), std::string::npos) << s.ToString();
  EXPECT_TRUE(reader->KvPut("k", "v").IsInvalidArgument());
}

TEST(StoreReader, StopsBeforeARecordTheWriterHasNotFinished) {
  MemEnv env;
  auto writer = OpenOrDie(MemOptions(&env), "/s");
  ASSERT_TRUE(writer->Append("a", 1, "one").ok());
  auto reader = OpenOrDie(ReaderOptions(&env), "/s");
  // The next record as the writer would write it, landing in two pieces.
  std::string rec;
  RecordBuilder b(&rec);
  b.Begin(log::kBatchRecord);
  b.AddAppend("a", 2, std::string(300, 'x'));
  b.Finish();
  uint64_t end = writer->GetStats().bytes_used;
  std::string path = "/s/" + SegmentFileName(1);
  std::unique_ptr<File> f;
  ASSERT_TRUE(env.OpenFile(path, OpenMode::kReadWrite, &f).ok());
  ASSERT_TRUE(f->WriteAt(end, rec.substr(0, rec.size() / 2)).ok());
  bool changed = true;
  ASSERT_TRUE(reader->Refresh(&changed).ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, 1));
  // A reader opened now also stops there, without calling it damage.
  auto second = OpenOrDie(ReaderOptions(&env), "/s");
  EXPECT_EQ(Seqs(second.get(), "a"), Range(1, 1));
  ASSERT_TRUE(f->WriteAt(end + rec.size() / 2, rec.substr(rec.size() / 2)).ok());
  ASSERT_TRUE(reader->Refresh(&changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, 2));
  std::vector<Event> events;
  ASSERT_TRUE(reader->Read("a", 2, 1, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, std::string(300, 'x'));
}

TEST(StoreReader, FollowsSegmentRolls) {
  MemEnv env;
  auto writer = OpenOrDie(MemOptions(&env), "/s");  // 4 KiB segments
  ASSERT_TRUE(writer->Append("a", 1, "first").ok());
  auto reader = OpenOrDie(ReaderOptions(&env), "/s");
  std::string pad(200, 'p');
  for (uint64_t seq = 2; seq <= 200; ++seq) {
    ASSERT_TRUE(writer->Append("a", seq, pad + std::to_string(seq)).ok());
    if (seq % 37 == 0) {
      bool changed;
      ASSERT_TRUE(reader->Refresh(&changed).ok());
      EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, seq));
    }
  }
  ASSERT_GT(writer->GetStats().segments, 5u);
  bool changed;
  ASSERT_TRUE(reader->Refresh(&changed).ok());
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, 200));
  std::vector<Event> events;
  ASSERT_TRUE(reader->Read("a", 150, 1, &events).ok());
  EXPECT_EQ(events.at(0).payload, pad + "150");
  EXPECT_EQ(reader->ActiveSegmentPath(), "/s/" + SegmentFileName(writer->GetStats().segments));
}

TEST(StoreReader, SurvivesCompactionAndLetsRetiredSegmentsGo) {
  MemEnv env;
  auto writer = OpenOrDie(MemOptions(&env), "/s");
  std::string pad(200, 'p');
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    ASSERT_TRUE(writer->Append("a", seq, pad + std::to_string(seq)).ok());
    ASSERT_TRUE(writer->KvPut("k", std::to_string(seq)).ok());
  }
  auto reader = OpenOrDie(ReaderOptions(&env), "/s");
  ASSERT_TRUE(writer->TruncateThrough("a", 90).ok());
  ASSERT_TRUE(writer->Compact().ok());
  ASSERT_TRUE(writer->Append("a", 101, "after").ok());
  bool changed;
  ASSERT_TRUE(reader->Refresh(&changed).ok());
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(91, 101));
  std::vector<Event> events;
  ASSERT_TRUE(reader->Read("a", 95, 1, &events).ok());
  EXPECT_EQ(events.at(0).payload, pad + "95");
  std::string v;
  ASSERT_TRUE(reader->KvGet("k", &v).ok());
  EXPECT_EQ(v, "100");
  // It holds no more segments than the writer has left.
  EXPECT_LE(reader->GetStats().segments, writer->GetStats().segments);
}

TEST(StoreReader, ReopensWhenCompactionTookTheSegmentItWasToReadNext) {
  MemEnv env;
  auto writer = OpenOrDie(MemOptions(&env), "/s");
  std::string pad(200, 'p');
  ASSERT_TRUE(writer->Append("a", 1, "first").ok());
  auto reader = OpenOrDie(ReaderOptions(&env), "/s");
  for (uint64_t seq = 2; seq <= 120; ++seq) {
    ASSERT_TRUE(writer->Append("a", seq, pad).ok());
  }
  ASSERT_TRUE(writer->TruncateThrough("a", 110).ok());
  ASSERT_TRUE(writer->Compact().ok());
  uint64_t size;
  ASSERT_TRUE(env.FileSize("/s/" + SegmentFileName(2), &size).IsNotFound());
  bool changed;
  Store* before = reader.get();
  ASSERT_FALSE(reader->Refresh(&changed).ok());  // segment 2 is gone
  ASSERT_TRUE(RefreshStore(&reader, &changed).ok());
  EXPECT_NE(reader.get(), before);
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(111, 120));
  ASSERT_TRUE(writer->Append("a", 121, "x").ok());
  ASSERT_TRUE(RefreshStore(&reader, &changed).ok());
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(111, 121));
}

TEST(StoreReader, AReaderOpenedBeforeTheFirstSegmentCatchesUpWhenItAppears) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/s").ok());
  StoreMarker m;
  m.id = std::string(log::kStoreIdSize, 'i');
  ASSERT_TRUE(env.SetContents("/s/STORE", EncodeStoreMarker(m)).ok());  // a writer's first step
  auto reader = OpenOrDie(ReaderOptions(&env), "/s");
  EXPECT_EQ(reader->ActiveSegmentPath(), "");
  EXPECT_EQ(reader->LogPosition(), 0u);
  bool changed = true;
  ASSERT_TRUE(RefreshStore(&reader, &changed).ok());
  EXPECT_FALSE(changed);
  auto writer = OpenOrDie(MemOptions(&env), "/s");
  ASSERT_TRUE(writer->Append("a", 1, "x").ok());
  ASSERT_TRUE(RefreshStore(&reader, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(Seqs(reader.get(), "a"), Range(1, 1));
  EXPECT_GT(reader->LogPosition(), 0u);
}

TEST(StoreReader, ManyReadersAtOnceAndAWriterThatRestarts) {
  MemEnv env;
  auto writer = OpenOrDie(MemOptions(&env), "/s");
  ASSERT_TRUE(writer->Append("a", 1, "x").ok());
  std::vector<std::unique_ptr<Store>> readers;
  for (int i = 0; i < 4; ++i) readers.push_back(OpenOrDie(ReaderOptions(&env), "/s"));
  writer.reset();
  writer = OpenOrDie(MemOptions(&env), "/s");
  ASSERT_TRUE(writer->Append("a", 2, "y").ok());
  for (auto& r : readers) {
    bool changed;
    ASSERT_TRUE(RefreshStore(&r, &changed).ok());
    EXPECT_EQ(Seqs(r.get(), "a"), Range(1, 2));
  }
}

}  // namespace
}  // namespace sx::store
