// persist_api_test.cc — the durable store through the public API
// (include/sx/persist.h), linked as an embedder links it: libsx.a alone.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "sx/persist.h"
#include "sx/sx.h"

namespace {

class PersistApiTest : public ::testing::Test {
 protected:
  PersistApiTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sx-embed-XXXXXX").string();
    root_ = mkdtemp(tmpl.data());
    options_.dir = root_ + "/data";
  }
  ~PersistApiTest() override { std::filesystem::remove_all(root_); }

  // Opens the store, or fails the test with the reason.
  std::unique_ptr<sx::DurableStore> MustOpen(const sx::StoreOptions& options) {
    std::string error;
    std::unique_ptr<sx::DurableStore> store = sx::DurableStore::Open(options, &error);
    EXPECT_NE(store, nullptr) << error;
    return store;
  }

  static sx::Outcome Run(sx::Interpreter& in, const std::string& src) {
    return in.Run(in.Eval(src));
  }

  std::string root_;
  sx::StoreOptions options_;
};

constexpr const char* kAppendVisit = R"(
  (import persist)
  (define store (persist/durable-backend))
  (persist/append store "visits" "visited" 0 {})
  (persist/last-seq store "visits"))";

TEST_F(PersistApiTest, AppendsThroughThePersistLibrarySurviveAReopen) {
  for (int64_t run = 1; run <= 2; ++run) {
    std::unique_ptr<sx::DurableStore> store = MustOpen(options_);
    ASSERT_NE(store, nullptr);
    sx::Interpreter in;
    store->Attach(in);
    sx::Outcome o = Run(in, kAppendVisit);
    ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
    EXPECT_EQ(o.value.AsInt(), run);
  }
}

TEST_F(PersistApiTest, OpenCreatesTheDirectoryAtOnce) {
  std::unique_ptr<sx::DurableStore> store = MustOpen(options_);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->is_open());
  EXPECT_TRUE(std::filesystem::is_directory(options_.dir));
}

TEST_F(PersistApiTest, ASecondWriterIsRefusedWithTheReason) {
  std::unique_ptr<sx::DurableStore> first = MustOpen(options_);
  ASSERT_NE(first, nullptr);
  std::string error;
  EXPECT_EQ(sx::DurableStore::Open(options_, &error), nullptr);
  EXPECT_NE(error.find("cannot open the store at " + options_.dir), std::string::npos) << error;
  EXPECT_NE(error.find("locked"), std::string::npos) << error;
}

TEST_F(PersistApiTest, CloseReleasesTheLockAndTheNextRequestReopens) {
  std::unique_ptr<sx::DurableStore> store = MustOpen(options_);
  ASSERT_NE(store, nullptr);
  sx::Interpreter in;
  store->Attach(in);
  ASSERT_EQ(Run(in, kAppendVisit).status, sx::Status::kDone);
  store->Close();
  EXPECT_FALSE(store->is_open());
  {
    std::unique_ptr<sx::DurableStore> other = MustOpen(options_);
    ASSERT_NE(other, nullptr);
  }
  sx::Outcome o = Run(in, "(persist/append store \"visits\" \"visited\" 0 {})");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Get("seq").AsInt(), 2);
  EXPECT_TRUE(store->is_open());
}

TEST_F(PersistApiTest, ReadOnlyOpensBesideAWriterReadsAndRefusesWrites) {
  std::unique_ptr<sx::DurableStore> writer = MustOpen(options_);
  ASSERT_NE(writer, nullptr);
  sx::Interpreter w;
  writer->Attach(w);
  ASSERT_EQ(Run(w, kAppendVisit).status, sx::Status::kDone);

  sx::StoreOptions ro = options_;
  ro.read_only = true;
  std::unique_ptr<sx::DurableStore> reader = MustOpen(ro);
  ASSERT_NE(reader, nullptr);
  sx::Interpreter r;
  reader->Attach(r);
  sx::Outcome o = Run(r, R"((import persist)
    (define store (persist/durable-backend))
    (list (persist/last-seq store "visits")
          (guard (e (true (error-message e)))
            (persist/append store "visits" "visited" 0 {}))))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  std::vector<sx::Value> items = o.value.Items();
  EXPECT_EQ(items[0].AsInt(), 1);
  ASSERT_TRUE(items[1].IsString()) << items[1].Inspect();
  EXPECT_NE(items[1].AsString().find("read-only"), std::string::npos) << items[1].AsString();
}

TEST_F(PersistApiTest, ReadOnlyNeedsAnExistingStore) {
  sx::StoreOptions ro = options_;
  ro.read_only = true;
  std::string error;
  EXPECT_EQ(sx::DurableStore::Open(ro, &error), nullptr);
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(options_.dir));
}

TEST_F(PersistApiTest, BadSegmentSizeIsAnOpenError) {
  sx::StoreOptions opts = options_;
  opts.segment_bytes = 100;
  std::string error;
  EXPECT_EQ(sx::DurableStore::Open(opts, &error), nullptr);
  EXPECT_NE(error.find("segment_bytes"), std::string::npos) << error;
}

TEST_F(PersistApiTest, SmallSegmentsRollAndTheStateStays) {
  sx::StoreOptions opts = options_;
  opts.segment_bytes = 4096;
  std::unique_ptr<sx::DurableStore> store = MustOpen(opts);
  ASSERT_NE(store, nullptr);
  sx::Interpreter in;
  store->Attach(in);
  sx::Outcome o = Run(in, R"((import persist)
    (define store (persist/durable-backend))
    (for-each (fn (i) (persist/append store "s" "t" i {:pad (join "" (map (fn (k) "xxxxxxxxxx") (range 20)))})) (range 100))
    (list (persist/last-seq store "s") (get (perform {:op "persist/stats" :args ()}) :segments)))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Items()[0].AsInt(), 100);
  EXPECT_GT(o.value.Items()[1].AsInt(), 1) << "4 KiB segments did not roll";
}

TEST_F(PersistApiTest, OpenLazilyCreatesNothingUntilAPersistRequest) {
  std::unique_ptr<sx::DurableStore> store = sx::DurableStore::OpenLazily(options_);
  sx::Interpreter in;
  store->Attach(in);
  ASSERT_EQ(Run(in, "(import persist) (+ 1 2)").status, sx::Status::kDone);
  EXPECT_FALSE(store->is_open());
  EXPECT_FALSE(std::filesystem::exists(options_.dir));
  sx::Outcome o = Run(in, kAppendVisit);
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_TRUE(store->is_open());
  EXPECT_TRUE(std::filesystem::is_directory(options_.dir));
}

TEST_F(PersistApiTest, OpenLazilyReportsAnOpenFailureToTheRequest) {
  std::unique_ptr<sx::DurableStore> holder = MustOpen(options_);
  ASSERT_NE(holder, nullptr);
  std::unique_ptr<sx::DurableStore> store = sx::DurableStore::OpenLazily(options_);
  sx::Interpreter in;
  store->Attach(in);
  sx::Outcome o = Run(in, "(perform {:op \"persist/last-seq\" :args (list \"s\")})");
  ASSERT_EQ(o.status, sx::Status::kError);
  EXPECT_NE(o.error_text.find("locked"), std::string::npos) << o.error_text;
  holder.reset();
  o = Run(in, "(perform {:op \"persist/last-seq\" :args (list \"s\")})");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 0);
}

TEST_F(PersistApiTest, BlobOpsAreServed) {
  std::unique_ptr<sx::DurableStore> store = MustOpen(options_);
  ASSERT_NE(store, nullptr);
  sx::Interpreter in;
  store->Attach(in);
  sx::Outcome o = Run(in, R"(
    (define cid (perform {:op "blob/put" :args (list "hello")}))
    (list (perform {:op "blob/get" :args (list cid)}) (perform {:op "blob/has?" :args (list cid)})))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(\"hello\" true)");
}

TEST_F(PersistApiTest, WritesOfTasksInOneRoundShareACommit) {
  std::unique_ptr<sx::DurableStore> store = MustOpen(options_);
  ASSERT_NE(store, nullptr);
  sx::Interpreter in;
  store->Attach(in);
  sx::Outcome o = Run(in, R"(
    (define (op name &rest args) (perform {:op name :args args}))
    (define before (get (op "persist/stats") :syncs))
    (define ts (map (fn (i) (spawn (fn () (op "persist/kv-put" (str "k" i) i)))) (range 16)))
    (for-each await ts)
    (list (op "persist/kv-get" "k15") (- (get (op "persist/stats") :syncs) before)))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Items()[0].AsInt(), 15);
  EXPECT_LT(o.value.Items()[1].AsInt(), 16) << "each of 16 writes in one round had a sync";
}

TEST_F(PersistApiTest, AttachSetsTheStdlibLoader) {
  std::unique_ptr<sx::DurableStore> store = sx::DurableStore::OpenLazily(options_);
  sx::Interpreter bare;
  EXPECT_EQ(Run(bare, "(import persist)").status, sx::Status::kError);
  sx::Interpreter in;
  store->Attach(in);
  sx::Outcome o = Run(in, "(import persist) (fn? persist/durable-backend)");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_TRUE(o.value.AsBool());
}

TEST(StdlibModuleTest, FindsBuiltInModulesByNameAndNothingElse) {
  std::string source;
  EXPECT_TRUE(sx::FindStdlibModule("persist", &source));
  EXPECT_NE(source.find("persist"), std::string::npos);
  source.clear();
  EXPECT_TRUE(sx::FindStdlibModule("persist/log", &source));
  EXPECT_NE(source.find("(define (persist/last-seq"), std::string::npos);
  source = "unchanged";
  EXPECT_FALSE(sx::FindStdlibModule("persist/nonesuch", &source));
  EXPECT_EQ(source, "unchanged");
}

TEST(SyncModeTest, NamesParseBackToTheirModes) {
  for (sx::SyncMode m : {sx::SyncMode::kAlways, sx::SyncMode::kBatch, sx::SyncMode::kNever}) {
    sx::SyncMode parsed = m == sx::SyncMode::kAlways ? sx::SyncMode::kNever : sx::SyncMode::kAlways;
    EXPECT_TRUE(sx::ParseSyncMode(sx::SyncModeName(m), &parsed)) << sx::SyncModeName(m);
    EXPECT_EQ(parsed, m);
  }
  EXPECT_STREQ(sx::SyncModeName(sx::SyncMode::kBatch), "batch");
}

TEST(SyncModeTest, OtherTextIsRefusedAndLeavesTheModeAlone) {
  for (const char* bad : {"", "ALWAYS", "sometimes", "always "}) {
    sx::SyncMode mode = sx::SyncMode::kBatch;
    EXPECT_FALSE(sx::ParseSyncMode(bad, &mode)) << bad;
    EXPECT_EQ(mode, sx::SyncMode::kBatch);
  }
}

TEST(SyncModeTest, EachModeOpensAStoreThatKeepsItsWrites) {
  for (sx::SyncMode m : {sx::SyncMode::kAlways, sx::SyncMode::kBatch, sx::SyncMode::kNever}) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sx-embed-XXXXXX").string();
    std::string root = mkdtemp(tmpl.data());
    sx::StoreOptions opts;
    opts.dir = root + "/data";
    opts.sync = m;
    for (int64_t run = 1; run <= 2; ++run) {
      std::string error;
      std::unique_ptr<sx::DurableStore> store = sx::DurableStore::Open(opts, &error);
      ASSERT_NE(store, nullptr) << error;
      EXPECT_EQ(store->options().sync, m);
      sx::Interpreter in;
      store->Attach(in);
      sx::Outcome o = in.Run(in.Eval(kAppendVisit));
      ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
      EXPECT_EQ(o.value.AsInt(), run) << sx::SyncModeName(m);
    }
    std::filesystem::remove_all(root);
  }
}

}  // namespace
