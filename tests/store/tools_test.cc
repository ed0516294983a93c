// The `sx store` tools: exit codes and output.
#include <gtest/gtest.h>

#include <sstream>

#include "host/store/mem_env.h"
#include "host/store/store.h"
#include "host/store/tools.h"
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

TEST_F(ToolsTest, VerifyOfAMissingDirectoryFails) {
  EXPECT_EQ(Run({"verify", "/nope"}), 1);
  EXPECT_FALSE(err_.str().empty());
}

TEST_F(ToolsTest, CompactReclaimsAndKeepsData) {
  {
    auto store = testing::OpenOrDie(testing::MemOptions(&env_), "/db");
    for (uint64_t i = 2; i <= 200; ++i) ASSERT_TRUE(store->Append("orders", i, std::string(100, 'x')).ok());
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

}  // namespace
}  // namespace sx::store
