// group_commit_test.cc — many tasks writing through the persist service:
// shared fsyncs, and the atomic ops staying correct when tasks race.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>

#include "host/cli/setup.h"
#include "sx/sx.h"

namespace {

class GroupCommitTest : public ::testing::Test {
 protected:
  GroupCommitTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sx-group-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    sx::host::HostOptions opts;
    opts.data_dir = dir_ + "/data";
    opts.sync = "always";
    host_ = std::make_unique<sx::host::Host>(opts);
  }
  ~GroupCommitTest() override {
    host_.reset();
    std::filesystem::remove_all(dir_);
  }
  sx::Outcome Run(const std::string& src) {
    sx::Interpreter& in = host_->interp();
    return in.Run(in.Eval(src));
  }
  int64_t Syncs() {
    sx::Outcome o = Run("(get (perform {:op \"persist/stats\" :args ()}) :syncs)");
    return o.value.AsInt();
  }

  std::string dir_;
  std::unique_ptr<sx::host::Host> host_;
};

constexpr const char* kHelpers = R"(
(define (op name &rest args) (perform {:op name :args args}))
(define (conflict? r) (and (dict? r) (get r :conflict)))
(define conflicts 0)
(define (append-one stream by)
  (let ((last (op "persist/last-seq" stream)))
    (let ((r (op "persist/append-expect" stream last {:seq (+ last 1) :by by})))
      (if (conflict? r)
          (begin (set! conflicts (+ conflicts 1)) (append-one stream by))
          r))))
(define (increment key)
  (let ((cur (op "persist/kv-get" key)))
    (let ((r (op "persist/kv-cas" key cur (+ (or cur 0) 1))))
      (if (conflict? r)
          (begin (set! conflicts (+ conflicts 1)) (increment key))
          r))))
)";

TEST_F(GroupCommitTest, SixtyFourTasksRaceOnOneStreamAndOneCounter) {
  ASSERT_EQ(Run(kHelpers).status, sx::Status::kDone);
  sx::Outcome o = Run(R"(
    (define ts (map (fn (i) (spawn (fn () (for-each (fn (k) (append-one "race" i) (increment "n"))
                                                    (range 4)))))
                    (range 64)))
    (for-each await ts)
    (list (map (fn (e) (get e :seq)) (op "persist/read" "race"))
          (op "persist/kv-get" "n")
          conflicts))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  std::vector<sx::Value> r = o.value.Items();
  std::vector<sx::Value> seqs = r[0].Items();
  ASSERT_EQ(seqs.size(), 256u);
  std::set<int64_t> seen;
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i].AsInt(), static_cast<int64_t>(i + 1));
    seen.insert(seqs[i].AsInt());
  }
  EXPECT_EQ(seen.size(), 256u) << "a seq was duplicated";
  EXPECT_EQ(r[1].AsInt(), 256) << "an increment was lost";
  EXPECT_GT(r[2].AsInt(), 0) << "64 racing tasks met no conflict: they did not race";
}

TEST_F(GroupCommitTest, WritesOfManyTasksShareFsyncs) {
  ASSERT_EQ(Run(kHelpers).status, sx::Status::kDone);
  int64_t before = Syncs();
  sx::Outcome o = Run(R"(
    (define ts (map (fn (i) (spawn (fn ()
                      (for-each (fn (k) (op "persist/append-next" (str "s" i) "t" k {:k k})
                                        (op "persist/kv-put" (str "k" i) k))
                                (range 8)))))
                    (range 64)))
    (for-each await ts)
    (list (op "persist/last-seq" "s17") (op "persist/kv-get" "k63") (len (op "persist/streams"))))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(8 7 64)");
  int64_t syncs = Syncs() - before;
  // 1024 writes; one group commit per round of 64.
  EXPECT_LE(syncs, 40) << syncs << " fsyncs for 1024 writes";
}

TEST_F(GroupCommitTest, ConflictsInAGroupAreValuesAndReadsSeeEarlierWrites) {
  ASSERT_EQ(Run(kHelpers).status, sx::Status::kDone);
  sx::Outcome o = Run(R"(
    (define ts (map (fn (i) (spawn (fn () (op "persist/append-expect" "one" 0 {:seq 1 :by i}))))
                    (range 10)))
    (define rs (map await ts))
    (define puts (map (fn (i) (spawn (fn () (op "persist/kv-put-new" "only" i)))) (range 5)))
    (define ps (map await puts))
    (define won (first (filter (fn (r) (not (conflict? r))) rs)))
    (define put (first (filter (fn (r) (not (conflict? r))) ps)))
    (list (len (filter conflict? rs)) (= (get won :by) (get (first (op "persist/read" "one")) :by))
          (len (filter conflict? ps)) (= put (op "persist/kv-get" "only"))
          (map (fn (r) (get r :actual)) (filter conflict? rs))))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  // One winner each (which task wins varies from round to round), and what
  // was stored is the winner's.
  EXPECT_EQ(o.value.Inspect(), "(9 true 4 true (1 1 1 1 1 1 1 1 1))");
}

TEST_F(GroupCommitTest, AppendNextAfterARefusedWriteInTheSameGroupStillNumbersRight) {
  ASSERT_EQ(Run(kHelpers).status, sx::Status::kDone);
  sx::Outcome o = Run(R"(
    (op "persist/append" "m" {:seq 5})
    (define a (spawn (fn () (guard (e (true :refused)) (op "persist/append" "m" {:seq 3})))))
    (define b (spawn (fn () (op "persist/append-next" "m" "t" 0 nil))))
    (define c (spawn (fn () (op "persist/append-next" "m" "t" 0 nil))))
    (list (await a) (get (await b) :seq) (get (await c) :seq)))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(:refused 6 7)");
}

}  // namespace
