// Corruption tests: on a small store, flip a byte at every offset of every
// segment and cut each segment at every length. Each case must be detected
// (Open or verify report it) or recovered as a torn tail, never a crash and
// never a wrong answer: what a store that opens returns must be the state
// after some prefix of the ops that were written, payloads intact.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

#include "host/store/log_format.h"
#include "host/store/mem_env.h"
#include "host/store/store.h"
#include "host/store/tools.h"
#include "tests/store/model.h"
#include "tests/store/test_util.h"

namespace sx::store {
namespace {

using testing::Model;

class CorruptionTest : public ::testing::Test {
 protected:
  // Builds a store of two sealed segments and an active one, remembering
  // the state after each op.
  void SetUp() override {
    MemEnv env;
    Options o = testing::MemOptions(&env);
    o.segment_bytes = 4096;
    o.auto_compact = false;
    auto store = testing::OpenOrDie(o, "/db");
    history_.push_back(Model());
    auto apply = [&](const WriteBatch& b) {
      ASSERT_TRUE(store->Commit(b).ok());
      Model next = history_.back();
      ASSERT_TRUE(next.Apply(b));
      history_.push_back(next);
    };
    for (uint64_t i = 1; i <= 48; ++i) {
      WriteBatch b;
      b.Append(i % 2 ? "odd" : "even", i, std::string(150 + i, static_cast<char>('a' + i % 26)));
      if (i % 5 == 0) b.KvPut("k" + std::to_string(i % 3), "value" + std::to_string(i));
      if (i == 12) b.TruncateThrough("odd", 5);
      if (i == 20) b.KvDelete("k2");
      apply(b);
    }
    std::vector<std::string> names;
    ASSERT_TRUE(env.ListDir("/db", &names).ok());
    for (const std::string& n : names) {
      if (n.ends_with(".seg")) {
        ASSERT_TRUE(env.GetContents("/db/" + n, &files_[n]).ok());
      }
    }
    ASSERT_TRUE(env.GetContents(std::string("/db/") + log::kMarkerFileName, &marker_).ok());
    ASSERT_GE(files_.size(), 3u);
  }

  // Opens a copy of the store with one file replaced; checks the outcome.
  // Returns true if the damage was detected.
  bool Check(const std::string& file, const std::string& contents, const std::string& what) {
    MemEnv env;
    for (const auto& [name, data] : files_) {
      EXPECT_TRUE(env.SetContents("/db/" + name, name == file ? contents : data).ok());
    }
    EXPECT_TRUE(env.CreateDir("/db").ok());
    PutMarker(&env);
    Options o = testing::MemOptions(&env);
    o.auto_compact = false;
    std::unique_ptr<Store> store;
    Status s = Store::Open(o, "/db", &store);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << what << ": " << s.ToString();
      EXPECT_NE(s.message().find(".seg"), std::string::npos) << "names the file: " << s.message();
      CheckSalvage(&env, what);
      return true;
    }
    Model got = testing::Snapshot(store.get());
    bool prefix = false;
    for (const Model& m : history_) prefix = prefix || testing::SameObservable(got, m);
    EXPECT_TRUE(prefix) << what << ": opened to a state that was never acknowledged\n"
                        << testing::Describe(got);
    std::vector<std::string> problems;
    EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok()) << what;
    return false;
  }

  // With salvage the store opens; every event it returns must be one that
  // was written, with its payload intact.
  void CheckSalvage(MemEnv* env, const std::string& what) {
    Options o = testing::MemOptions(env);
    o.salvage = true;
    o.read_only = true;
    std::unique_ptr<Store> store;
    Status s = Store::Open(o, "/db", &store);
    ASSERT_TRUE(s.ok()) << what << ": salvage: " << s.ToString();
    Model got = testing::Snapshot(store.get());
    const Model& all = history_.back();
    for (const auto& [name, st] : got.streams) {
      for (const auto& [seq, payload] : st.events) {
        bool written = false;
        for (const Model& m : history_) {
          auto it = m.streams.find(name);
          if (it == m.streams.end()) continue;
          auto e = it->second.events.find(seq);
          written = written || (e != it->second.events.end() && e->second == payload);
        }
        EXPECT_TRUE(written) << what << ": salvage invented an event";
      }
    }
    (void)all;
    std::ostringstream out, err;
    // verify must fail on a store that needed salvage (it sees the damage).
  }

  // The store marker, put beside the segments of each copy.
  void PutMarker(MemEnv* env) {
    EXPECT_TRUE(env->SetContents(std::string("/db/") + log::kMarkerFileName, marker_).ok());
  }

  std::map<std::string, std::string> files_;
  std::string marker_;
  std::vector<Model> history_;
};

TEST_F(CorruptionTest, EveryFlippedByteIsDetectedOrCutAsATornTail) {
  size_t detected = 0, tolerated = 0;
  for (const auto& [name, data] : files_) {
    bool last = name == files_.rbegin()->first;
    for (size_t off = 0; off < data.size(); ++off) {
      std::string bad = data;
      bad[off] = static_cast<char>(bad[off] ^ 0x20);
      bool was_detected = Check(name, bad, name + " flip at " + std::to_string(off));
      if (HasFatalFailure()) return;
      (was_detected ? detected : tolerated)++;
      if (!last && !was_detected) {
        // In a sealed segment only the zero padding after the seal may change
        // without being noticed.
        EXPECT_GT(off, data.find_last_not_of('\0')) << name << " flip at " << off;
      }
    }
  }
  EXPECT_GT(detected, 0u);
  EXPECT_GT(tolerated, 0u);
}

TEST_F(CorruptionTest, EveryTruncationIsDetected) {
  // A segment keeps the size it was created with, so any cut is damage: in
  // the newest segment too, where it used to pass for a torn tail.
  for (const auto& [name, data] : files_) {
    size_t end = data.find_last_not_of('\0') + 1;
    for (size_t len = 0; len < data.size(); len += (len < end + 64 ? 1 : 512)) {
      bool detected = Check(name, data.substr(0, len), name + " cut at " + std::to_string(len));
      if (HasFatalFailure()) return;
      EXPECT_TRUE(detected) << name << " cut at " << len;
    }
    EXPECT_FALSE(Check(name, data, name + " whole"));
  }
}

TEST_F(CorruptionTest, EveryDeletedSegmentIsDetectedAndNamed) {
  for (const auto& [gone, unused] : files_) {
    MemEnv env;
    for (const auto& [name, data] : files_) {
      if (name != gone) {
        ASSERT_TRUE(env.SetContents("/db/" + name, data).ok());
      }
    }
    ASSERT_TRUE(env.CreateDir("/db").ok());
    PutMarker(&env);
    std::unique_ptr<Store> store;
    Status s = Store::Open(testing::MemOptions(&env), "/db", &store);
    ASSERT_TRUE(s.IsCorruption()) << gone << ": " << s.ToString();
    EXPECT_NE(s.message().find(gone + " at offset 0: the segment file is missing"),
              std::string::npos)
        << s.message();
    std::ostringstream out, err;
    EXPECT_EQ(RunStoreTool({"verify", "/db"}, out, err, &env), 1) << gone;
    EXPECT_NE(out.str().find(gone + ": the segment file is missing"), std::string::npos)
        << out.str() << err.str();
  }
}

TEST_F(CorruptionTest, MidLogCorruptionNamesFileAndOffset) {
  const auto& [name, data] = *files_.begin();
  std::string bad = data;
  bad[log::kSegmentHeaderSize + 20] ^= 0x01;
  MemEnv env;
  for (const auto& [n, d] : files_)
    ASSERT_TRUE(env.SetContents("/db/" + n, n == name ? bad : d).ok());
  ASSERT_TRUE(env.CreateDir("/db").ok());
  PutMarker(&env);
  std::vector<RecoveryNote> notes;
  Options o = testing::MemOptions(&env);
  o.on_recovery_problem = [&](const RecoveryNote& n) { notes.push_back(n); };
  std::unique_ptr<Store> store;
  Status s = Store::Open(o, "/db", &store);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(name + " at offset 32"), std::string::npos) << s.message();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_FALSE(notes[0].torn_tail);
  EXPECT_EQ(notes[0].file, name);
  EXPECT_EQ(notes[0].offset, log::kSegmentHeaderSize);

  std::ostringstream out, err;
  EXPECT_EQ(RunStoreTool({"verify", "/db"}, out, err, &env), 1);
  EXPECT_NE(out.str().find(name + " offset 32"), std::string::npos) << out.str() << err.str();
}

TEST_F(CorruptionTest, TornLastRecordIsCutOffAndReportedAsTorn) {
  // A write cut short by a crash leaves zeros where its last bytes should
  // be; the file keeps its size.
  const auto& [name, data] = *files_.rbegin();
  size_t end = data.find_last_not_of('\0') + 1;
  std::string torn = data;
  std::fill(torn.begin() + static_cast<long>(end) - 3, torn.begin() + static_cast<long>(end), '\0');
  MemEnv env;
  for (const auto& [n, d] : files_) {
    ASSERT_TRUE(env.SetContents("/db/" + n, n == name ? torn : d).ok());
  }
  ASSERT_TRUE(env.CreateDir("/db").ok());
  PutMarker(&env);
  std::vector<RecoveryNote> notes;
  Options o = testing::MemOptions(&env);
  o.on_recovery_problem = [&](const RecoveryNote& n) { notes.push_back(n); };
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(o, "/db", &store).ok());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(notes[0].torn_tail);
  EXPECT_TRUE(
      testing::SameObservable(testing::Snapshot(store.get()), history_[history_.size() - 2]));
  // The torn record's bytes up to the last nonzero one are cut off.
  EXPECT_EQ(store->GetStats().recovered_torn_bytes,
            torn.find_last_not_of('\0') + 1 - notes[0].offset);
  // New writes go where the torn record was, and survive another reopen.
  ASSERT_TRUE(store->Append("odd", 100, "new").ok());
  store.reset();
  notes.clear();
  ASSERT_TRUE(Store::Open(o, "/db", &store).ok());
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(store->LastSeq("odd"), 100u);
}

TEST_F(CorruptionTest, ACutNewestSegmentIsRefusedAndSalvageKeepsItsRecords) {
  const auto& [name, data] = *files_.rbegin();
  size_t end = data.find_last_not_of('\0') + 1;
  MemEnv env;
  for (const auto& [n, d] : files_) {
    ASSERT_TRUE(env.SetContents("/db/" + n, n == name ? d.substr(0, end - 3) : d).ok());
  }
  ASSERT_TRUE(env.CreateDir("/db").ok());
  PutMarker(&env);
  std::unique_ptr<Store> store;
  Status s = Store::Open(testing::MemOptions(&env), "/db", &store);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(
      s.message().find(name + " at offset " + std::to_string(end - 3) + ": the file is " +
                       std::to_string(end - 3) + " bytes, not the " + std::to_string(data.size()) +
                       " its log says it has: its end was cut off"),
      std::string::npos)
      << s.message();
  // Salvage keeps every record before the cut: the state before the last op.
  Options o = testing::MemOptions(&env);
  o.salvage = true;
  o.read_only = true;
  ASSERT_TRUE(Store::Open(o, "/db", &store).ok());
  EXPECT_TRUE(
      testing::SameObservable(testing::Snapshot(store.get()), history_[history_.size() - 2]));
  std::ostringstream out, err;
  EXPECT_EQ(RunStoreTool({"verify", "/db"}, out, err, &env), 1);
  EXPECT_NE(out.str().find(name + " offset " + std::to_string(end - 3) + ": the file is"),
            std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace sx::store
