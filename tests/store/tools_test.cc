// The `sx store` tools: exit codes and output.
#include "host/store/tools.h"

#include <gtest/gtest.h>

#include <sstream>

#include "host/store/mem_env.h"
#include "host/store/store.h"
#include "tests/store/test_util.h"

namespace sx::store {
namespace {

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = testing::OpenOrDie(testing::MemOptions(&env_), "/db");
    ASSERT_TRUE(store->Append("orders", 1, "{:id 7}").ok());
    ASSERT_TRUE(store->Append(std::string("bin\0ary", 7), 1, "\x01\xff\n").ok());
    ASSERT_TRUE(store->KvPut("k", "v").ok());
  }
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunStoreTool(args, out_, err_, &env_);
  }

  MemEnv env_;
  std::ostringstream out_, err_;
};

TEST_F(ToolsTest, BadUsageExitsTwo) {
  EXPECT_EQ(Run({}), 2);
  EXPECT_EQ(Run({"frobnicate", "/db"}), 2);
  EXPECT_EQ(Run({"stats"}), 2);
  EXPECT_EQ(Run({"dump", "/db", "--xml"}), 2);
  EXPECT_NE(err_.str().find("usage"), std::string::npos);
}

TEST_F(ToolsTest, StatsCountsStreamsEventsAndKeys) {
  ASSERT_EQ(Run({"store", "stats", "/db"}), 0) << err_.str();
  EXPECT_NE(out_.str().find("streams: 2"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("events live: 2"), std::string::npos);
  EXPECT_NE(out_.str().find("kv keys: 1"), std::string::npos);
}

TEST_F(ToolsTest, DumpPrintsEveryRecordWithEscapes) {
  ASSERT_EQ(Run({"dump", "/db"}), 0) << err_.str();
  std::string o = out_.str();
  EXPECT_NE(o.find("append stream=\"orders\" seq=1 payload=\"{:id 7}\""), std::string::npos) << o;
  EXPECT_NE(o.find("stream=\"bin\\x00ary\""), std::string::npos) << o;
  EXPECT_NE(o.find("payload=\"\\x01\\xff\\n\""), std::string::npos) << o;
  EXPECT_NE(o.find("kv-put key=\"k\" value=\"v\""), std::string::npos) << o;
}

TEST_F(ToolsTest, DumpJsonIsOneObjectPerRecord) {
  ASSERT_EQ(Run({"dump", "/db", "--json"}), 0) << err_.str();
  std::string o = out_.str();
  EXPECT_EQ(std::count(o.begin(), o.end(), '\n'), 3);
  EXPECT_NE(o.find("\"stream\":\"bin\\u0000ary\""), std::string::npos) << o;
  EXPECT_NE(o.find("\"payload\":\"\\u0001\\u00ff\\n\""), std::string::npos) << o;
}

TEST_F(ToolsTest, VerifyPassesOnAHealthyStoreAndFailsOnDamage) {
  ASSERT_EQ(Run({"verify", "/db"}), 0) << out_.str() << err_.str();
  EXPECT_NE(out_.str().find("ok:"), std::string::npos);
  std::string seg;
  ASSERT_TRUE(env_.GetContents("/db/0000000001.seg", &seg).ok());
  seg[40] ^= 1;  // inside the first record, with valid records after it
  ASSERT_TRUE(env_.SetContents("/db/0000000001.seg", seg).ok());
  EXPECT_EQ(Run({"verify", "/db"}), 1);
  EXPECT_NE(out_.str().find("0000000001.seg offset 32"), std::string::npos) << out_.str();
}

TEST_F(ToolsTest, DumpShowsRetiredAndBlobRecords) {
  std::string cid;
  {
    Options o = testing::MemOptions(&env_);
    o.auto_compact = false;
    auto store = testing::OpenOrDie(o, "/db");
    ASSERT_TRUE(store->BlobPut("hi", &cid).ok());
    for (uint64_t i = 2; i <= 40; ++i)
      ASSERT_TRUE(store->Append("orders", i, std::string(200, 'x')).ok());
    ASSERT_TRUE(store->TruncateThrough("orders", 39).ok());
    ASSERT_TRUE(store->Compact().ok());
  }
  ASSERT_EQ(Run({"dump", "/db"}), 0) << err_.str();
  std::string o = out_.str();
  EXPECT_NE(o.find(" blob (76 bytes)\n    cid=\"" + cid + "\" size=2\n"), std::string::npos) << o;
  EXPECT_NE(o.find(" retired ("), std::string::npos) << o;
  EXPECT_NE(o.find("    segments=1"), std::string::npos) << o;
  ASSERT_EQ(Run({"dump", "/db", "--json"}), 0) << err_.str();
  o = out_.str();
  EXPECT_NE(o.find("\"type\":\"blob\",\"bytes\":76,\"cid\":\"" + cid + "\",\"size\":2,\"ops\":[]}"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("\"type\":\"retired\",\"bytes\":25,\"segments\":[[1,"), std::string::npos) << o;
  ASSERT_EQ(Run({"verify", "/db"}), 0) << out_.str();
}

TEST_F(ToolsTest, VerifyNamesARecordedBlobWhoseFileIsGone) {
  std::string cid;
  {
    auto store = testing::OpenOrDie(testing::MemOptions(&env_), "/db");
    ASSERT_TRUE(store->BlobPut("gone soon", &cid).ok());
  }
  ASSERT_TRUE(env_.DeleteFile("/db/blobs/" + cid).ok());
  EXPECT_EQ(Run({"verify", "/db"}), 1);
  EXPECT_NE(out_.str().find("blob " + cid + ": Corruption: blob " + cid +
                            " is recorded in the log, but its file is missing"),
            std::string::npos)
      << out_.str();
}

// docs/storage-format.md, "Worked example": the bytes and the dump shown
// there are what the code writes.
TEST(FormatDoc, TheWorkedExampleIsWhatTheCodeWrites) {
  MemEnv env;
  {
    auto store = testing::OpenOrDie(testing::MemOptions(&env), "/db");
    ASSERT_TRUE(store->Append("orders", 1, "{:id 7}").ok());
    WriteBatch b;
    b.KvPut("k", "v");
    b.TruncateThrough("orders", 1);
    ASSERT_TRUE(store->Commit(b).ok());
    std::string cid;
    ASSERT_TRUE(store->BlobPut("hi", &cid).ok());
  }
  const char* kHex =
      "73 78 73 74 6f 72 65 0a 04 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 10 00 00 78 74 "
      "a9 a7 "
      "77 ae 4c c2 15 00 00 00 01 01 00 00 00 01 06 6f 72 64 65 72 73 01 07 7b 3a 69 64 20 37 7d "
      "c4 b5 "
      "d1 4a 12 00 00 00 01 02 00 00 00 02 01 6b 01 76 04 06 6f 72 64 65 72 73 01 19 c2 aa 78 43 "
      "00 00 "
      "00 05 02 00 00 00 00 00 00 00 62 61 66 6b 72 65 69 65 70 69 6e 62 75 6d 7a 65 70 6e 6f 6c "
      "6e 37 "
      "63 6f 35 76 65 61 34 6b 66 33 6c 63 63 74 6e 71 6f 6c 62 33 75 36 62 76 73 65 6c 6c 67 7a "
      "6e 79 "
      "6d 74 32 75 71";
  std::string want;
  for (const char* p = kHex; *p != '\0'; p += p[2] == ' ' ? 3 : 2) {
    want.push_back(static_cast<char>(std::stoi(std::string(p, 2), nullptr, 16)));
  }
  want.resize(4096);
  std::string got;
  ASSERT_TRUE(env.GetContents("/db/0000000001.seg", &got).ok());
  EXPECT_EQ(got, want);
  std::ostringstream out, err;
  ASSERT_EQ(RunStoreTool({"dump", "/db"}, out, err, &env), 0) << err.str();
  EXPECT_EQ(out.str(),
            "segment 0000000001.seg (4096 bytes)\n"
            "  @32 batch (30 bytes)\n"
            "    append stream=\"orders\" seq=1 payload=\"{:id 7}\"\n"
            "  @62 batch (27 bytes)\n"
            "    kv-put key=\"k\" value=\"v\"\n"
            "    truncate stream=\"orders\" through=1\n"
            "  @89 blob (76 bytes)\n"
            "    cid=\"bafkreiepinbumzepnoln7co5vea4kf3lcctnqolb3u6bvsellgznymt2uq\" size=2\n");
}

TEST_F(ToolsTest, VerifyOfAMissingDirectoryFails) {
  EXPECT_EQ(Run({"verify", "/nope"}), 1);
  EXPECT_FALSE(err_.str().empty());
}

TEST_F(ToolsTest, CompactReclaimsAndKeepsData) {
  {
    auto store = testing::OpenOrDie(testing::MemOptions(&env_), "/db");
    for (uint64_t i = 2; i <= 200; ++i)
      ASSERT_TRUE(store->Append("orders", i, std::string(100, 'x')).ok());
    ASSERT_TRUE(store->TruncateThrough("orders", 199).ok());
  }
  ASSERT_EQ(Run({"compact", "/db"}), 0) << err_.str();
  EXPECT_NE(out_.str().find("compacted:"), std::string::npos);
  EXPECT_TRUE(err_.str().empty()) << "no progress line when stderr is not a terminal";
  ASSERT_EQ(Run({"verify", "/db"}), 0) << out_.str();
  auto store = testing::OpenOrDie(testing::MemOptions(&env_), "/db");
  EXPECT_EQ(store->LastSeq("orders"), 200u);
  std::vector<Event> events;
  ASSERT_TRUE(store->Read("orders", 0, 10, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].seq, 200u);
}

// ---------------------------------------------------------------- wrong or damaged directories

TEST_F(ToolsTest, NoToolCreatesAStoreOnAMistypedPath) {
  for (const char* tool : {"stats", "verify", "compact", "dump"}) {
    EXPECT_EQ(Run({tool, "/dbb"}), 1) << tool;
    EXPECT_NE(err_.str().find("/dbb"), std::string::npos) << tool << ": " << err_.str();
    EXPECT_FALSE(env_.DirExists("/dbb")) << tool << " created the directory";
  }
  ASSERT_TRUE(env_.CreateDir("/empty").ok());
  for (const char* tool : {"stats", "verify", "compact", "dump"}) {
    EXPECT_EQ(Run({tool, "/empty"}), 1) << tool;
    EXPECT_NE(err_.str().find("not an sx store"), std::string::npos) << tool << ": " << err_.str();
    std::vector<std::string> names;
    ASSERT_TRUE(env_.ListDir("/empty", &names).ok());
    EXPECT_TRUE(names.empty()) << tool << " wrote " << names[0];
  }
}

TEST_F(ToolsTest, EveryToolRefusesADirectoryThatIsNotAStore) {
  ASSERT_TRUE(env_.CreateDir("/etc").ok());
  ASSERT_TRUE(env_.SetContents("/etc/passwd", "root:x:0:0").ok());
  for (const char* tool : {"stats", "verify", "compact", "dump"}) {
    EXPECT_EQ(Run({tool, "/etc"}), 1) << tool;
    EXPECT_NE(err_.str().find("not an sx store"), std::string::npos) << tool << ": " << err_.str();
    EXPECT_EQ(out_.str().find("ok"), std::string::npos) << tool << ": " << out_.str();
    std::vector<std::string> names;
    ASSERT_TRUE(env_.ListDir("/etc", &names).ok());
    EXPECT_EQ(names.size(), 1u) << tool << " wrote into /etc";
  }
}

TEST_F(ToolsTest, EveryToolSaysAStoreWithAMissingSegmentIsDamaged) {
  {
    Options o = testing::MemOptions(&env_);
    o.auto_compact = false;
    auto store = testing::OpenOrDie(o, "/db");
    for (uint64_t seq = 2; seq <= 60; ++seq) {
      ASSERT_TRUE(store->Append("orders", seq, std::string(200, 'x')).ok());
    }
  }
  ASSERT_TRUE(env_.DeleteFile("/db/0000000002.seg").ok());
  for (const char* tool : {"stats", "verify", "compact", "dump"}) {
    EXPECT_EQ(Run({tool, "/db"}), 1) << tool;
    EXPECT_NE((out_.str() + err_.str()).find("0000000002.seg"), std::string::npos)
        << tool << ": " << out_.str() << err_.str();
  }
}

TEST_F(ToolsTest, EveryToolBesideARunningWriterSaysTheStoreIsInUse) {
  auto writer = testing::OpenOrDie(testing::MemOptions(&env_), "/db");
  EXPECT_EQ(Run({"verify", "/db"}), 4);
  EXPECT_NE(err_.str().find("in use"), std::string::npos) << err_.str();
  EXPECT_EQ(out_.str().find("ok"), std::string::npos) << out_.str();
  EXPECT_EQ(Run({"compact", "/db"}), 4);
  EXPECT_EQ(Run({"stats", "/db"}), 4);
  EXPECT_EQ(Run({"dump", "/db"}), 4);
  writer.reset();
  EXPECT_EQ(Run({"verify", "/db"}), 0) << out_.str() << err_.str();
}

}  // namespace
}  // namespace sx::store
