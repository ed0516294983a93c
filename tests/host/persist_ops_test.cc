// persist_ops_test.cc — the persist ops refuse at write time what the store
// could not give back, and check their arguments before anything is written.
//
// Each test runs SX through a Host (the interpreter and persist service the
// `sx` command builds) on a fresh data directory, and restarts the store
// where what matters is what a new process would read.
#include "host/ops/persist_ops.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "host/cli/setup.h"
#include "sx/sx.h"

namespace {

class PersistOpsTest : public ::testing::Test {
 protected:
  PersistOpsTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sx-ops-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    sx::host::HostOptions opts;
    opts.data_dir = dir_ + "/data";
    opts.sync = "never";
    host_ = std::make_unique<sx::host::Host>(opts);
    sx::Outcome o = Run(kHelpers);
    EXPECT_EQ(o.status, sx::Status::kDone) << o.error_text;
  }
  ~PersistOpsTest() override {
    host_.reset();
    std::filesystem::remove_all(dir_);
  }
  sx::Outcome Run(const std::string& src) {
    sx::Interpreter& in = host_->interp();
    return in.Run(in.Eval(src));
  }
  // Runs src, which must finish; its value's inspect text.
  std::string Value(const std::string& src) {
    sx::Outcome o = Run(src);
    EXPECT_EQ(o.status, sx::Status::kDone) << src << "\n" << o.error_text.substr(0, 2000);
    return o.status == sx::Status::kDone ? o.value.Inspect() : "<error>";
  }
  // Runs src, which must raise; the error's message.
  std::string Error(const std::string& src) {
    sx::Outcome o = Run(src);
    EXPECT_EQ(o.status, sx::Status::kError) << src << " gave " << o.value.Inspect().substr(0, 200);
    return o.status == sx::Status::kError ? o.value.ErrorMessage() : "<no error>";
  }
  void Restart() { host_->persist()->Close(); }

  static constexpr const char* kHelpers = R"(
    (define (op name &rest args) (perform {:op name :args args}))
    (define (deep n) (reduce (fn (acc _) (list acc)) 0 (range n)))
    (define (ev n data) {:seq n :type "t" :at 1 :data data})
  )";

  std::string dir_;
  std::unique_ptr<sx::host::Host> host_;
};

// --- values nested deeper than the reader takes back --------------------------------

// The reader's limit (Limits::max_read_depth) is 10000 open lists or dicts;
// an event dict holding (deep 9999) is exactly that deep.
TEST_F(PersistOpsTest, AValueAtTheReadersDepthLimitIsStoredAndReadBack) {
  EXPECT_EQ(Value("(= (op \"persist/kv-put\" \"k\" (deep 10000)) (deep 10000))"), "true");
  EXPECT_EQ(Value("(get (op \"persist/append\" \"s\" (ev 1 (deep 9999))) :seq)"), "1");
  Restart();
  EXPECT_EQ(Value("(= (op \"persist/kv-get\" \"k\") (deep 10000))"), "true");
  EXPECT_EQ(Value("(= (get (first (op \"persist/read\" \"s\")) :data) (deep 9999))"), "true");
}

TEST_F(PersistOpsTest, EveryWriteOpRefusesAValueNestedDeeperThanTheReaderTakes) {
  const char* writes[] = {
      R"((op "persist/kv-put" "k" (deep 10001)))",
      R"((op "persist/kv-put-new" "k" (deep 10001)))",
      R"((op "persist/kv-cas" "k" nil (deep 10001)))",
      R"((op "persist/append" "s" (ev 1 (deep 10000))))",
      R"((op "persist/append-next" "s" "t" 1 (deep 10000)))",
      R"((op "persist/append-expect" "s" 0 (ev 1 (deep 10000))))",
      R"((op "persist/append-batch" "s" (list (ev 1 0) (ev 2 (deep 10000)))))",
      R"((op "persist/append-batch" "s" (list (ev 1 (deep 10000))) 0))",
      R"((op "persist/commit" (list {:op "kv-put" :key "k" :value (deep 10001)})))",
      R"((op "persist/commit" (list {:op "append" :stream "s" :event (ev 1 0)}
                                    {:op "kv-cas" :key "k" :expected nil :value (deep 10001)})))",
      R"((op "persist/commit" (list {:op "append-expect" :stream "s" :expected 0
                                     :event (ev 1 (deep 10000))})))",
  };
  for (const char* w : writes) {
    EXPECT_NE(Error(w).find("cannot store the value: nested deeper than 10000"), std::string::npos)
        << w;
  }
  Restart();
  EXPECT_EQ(Value("(list (op \"persist/kv-has?\" \"k\") (op \"persist/last-seq\" \"s\") "
                  "(op \"persist/read\" \"s\"))"),
            "(false 0 ())");
}

TEST_F(PersistOpsTest, ADeepValueInAGroupCommitIsRefusedAndTheOtherTasksWritesLand) {
  std::string v = Value(R"(
    (define ts (list (spawn (fn () (op "persist/kv-put" "a" 1)))
                     (spawn (fn () (guard (e (true (error-message e)))
                                     (op "persist/append-next" "s" "t" 1 (deep 10000)))))
                     (spawn (fn () (op "persist/kv-put" "b" 2)))))
    (nth (map await ts) 1))");
  EXPECT_NE(v.find("cannot store the value: nested deeper than 10000"), std::string::npos) << v;
  Restart();
  EXPECT_EQ(Value("(list (op \"persist/kv-get\" \"a\") (op \"persist/kv-get\" \"b\") "
                  "(op \"persist/last-seq\" \"s\") (op \"persist/read\" \"s\"))"),
            "(1 2 0 ())");
}

TEST_F(PersistOpsTest, SerializeRefusesWhatReadStringCouldNotReadBack) {
  EXPECT_EQ(Value("(= (read-string (serialize (deep 10000))) (deep 10000))"), "true");
  EXPECT_NE(Error("(serialize (deep 10001))").find("nested deeper than 10000"), std::string::npos);
}

// --- seqs never pass INT64_MAX ------------------------------------------------------

constexpr const char* kFull = R"((op "persist/append" "s" {:seq 9223372036854775807}))";

TEST_F(PersistOpsTest, AppendNextOnAFullStreamIsRefusedAndTheSeqNeverGoesDown) {
  ASSERT_EQ(Value(kFull), "{:seq 9223372036854775807}");
  std::string e = Error(R"((op "persist/append-next" "s" "t" 1 nil))");
  EXPECT_NE(e.find("stream is full"), std::string::npos) << e;
  EXPECT_EQ(Value(R"((op "persist/last-seq" "s"))"), "9223372036854775807");
  Restart();
  EXPECT_EQ(Value(R"((op "persist/last-seq" "s"))"), "9223372036854775807");
  EXPECT_EQ(Value(R"((map (fn (e) (get e :seq)) (op "persist/read" "s")))"),
            "(9223372036854775807)");
}

TEST_F(PersistOpsTest, EveryAppendToAFullStreamSaysItIsFull) {
  ASSERT_EQ(Value(kFull), "{:seq 9223372036854775807}");
  const char* appends[] = {
      R"((op "persist/append-next" "s" "t" 1 nil))",
      R"((op "persist/append" "s" {:seq 5}))",
      R"((op "persist/append-batch" "s" (list {:seq 3})))",
      R"((op "persist/commit" (list {:op "append" :stream "s" :event {:seq 4}})))",
      R"((op "persist/commit" (list {:op "append" :stream "t" :event {:seq 9223372036854775807}}
                                    {:op "append" :stream "t" :event {:seq 4}})))",
  };
  for (const char* a : appends) {
    std::string e = Error(a);
    EXPECT_NE(e.find("stream is full"), std::string::npos) << a << ": " << e;
    EXPECT_EQ(e.find("9223372036854775808"), std::string::npos) << a << ": " << e;
  }
  std::string e = Error(R"((op "persist/append-expect" "s" 9223372036854775807 {:seq 1}))");
  EXPECT_NE(e.find("stream is full"), std::string::npos) << e;
  // Expecting another last seq is a conflict, as for any stream that moved.
  EXPECT_EQ(Value(R"((op "persist/append-expect" "s" 5 {:seq 6}))"),
            "{:actual 9223372036854775807 :conflict true :expected 5}");
  EXPECT_EQ(Value(R"((op "persist/last-seq" "s"))"), "9223372036854775807");
}

TEST_F(PersistOpsTest, EveryAppendInAGroupCommitToAFullStreamSaysItIsFull) {
  ASSERT_EQ(Value(kFull), "{:seq 9223372036854775807}");
  std::string v = Value(R"(
    (define (try f) (guard (e (true (error-message e))) (f)))
    (define ts (map (fn (f) (spawn (fn () (try f))))
                    (list (fn () (op "persist/append" "s" {:seq 5}))
                          (fn () (op "persist/append-expect" "s" 9223372036854775807 {:seq 1}))
                          (fn () (op "persist/append-batch" "s" (list {:seq 3})))
                          (fn () (op "persist/append-batch" "s" (list {:seq 3}) 9223372036854775807))
                          (fn () (op "persist/commit" (list {:op "append" :stream "s" :event {:seq 4}})))
                          (fn () (op "persist/kv-put" "k" 1)))))
    (map (fn (t) (let ((r (await t))) (if (string? r) (includes? r "stream is full") r))) ts))");
  EXPECT_EQ(v, "(true true true true true 1)");
  EXPECT_EQ(Value(R"((list (op "persist/last-seq" "s") (op "persist/kv-get" "k")))"),
            "(9223372036854775807 1)");
}

TEST_F(PersistOpsTest, AppendNextInAGroupCommitOnAFullStreamIsRefused) {
  ASSERT_EQ(Value(kFull), "{:seq 9223372036854775807}");
  std::string v = Value(R"(
    (define (try f) (guard (e (true (error-message e))) (f)))
    (define ts (list (spawn (fn () (try (fn () (op "persist/append-next" "s" "t" 1 nil)))))
                     (spawn (fn () (try (fn () (op "persist/append-next" "s" "t" 2 nil)))))
                     (spawn (fn () (op "persist/append-next" "other" "t" 3 nil)))))
    (map await ts))");
  EXPECT_EQ(v.find("-9223372036854775808"), std::string::npos) << v;
  EXPECT_NE(v.find("\"persist/append-next: stream \\\"s\\\": stream is full"), std::string::npos)
      << v;
  EXPECT_EQ(Value(R"((list (op "persist/last-seq" "s") (op "persist/last-seq" "other")))"),
            "(9223372036854775807 1)");
}

// --- a round's writes are planned on the view the earlier ones leave -----------------

// The append-next is planned as if the stale append before it in the round
// lands (seq 6); that one is refused, so append-next is planned again
// alone, from the store. The round is handed to the service directly, in
// this order.
TEST_F(PersistOpsTest, AnAppendNextAfterARefusedAppendOfItsRoundIsNumberedFromTheStore) {
  ASSERT_EQ(Value(R"((get (op "persist/append" "s" {:seq 10}) :seq))"), "10");
  sx::Interpreter& in = host_->interp();
  auto args = [&](const char* src) { return Run(src).value; };
  sx::IoRequest round[2];
  round[0].op = "persist/append";
  round[0].args = args(R"((list "s" {:seq 5}))");
  round[1].op = "persist/append-next";
  round[1].args = args(R"((list "s" "t" 1 nil))");
  host_->persist()->HandleBatch(in, round);
  ASSERT_EQ(round[0].result.kind, sx::IoResult::kFailed);
  EXPECT_NE(round[0].result.message.find("conflict: seq 5 is not above the last seq 10"),
            std::string::npos)
      << round[0].result.message;
  ASSERT_EQ(round[1].result.kind, sx::IoResult::kServed) << round[1].result.message;
  EXPECT_EQ(round[1].result.value.Get("seq").Inspect(), "11");
  EXPECT_EQ(Value(R"((map (fn (e) (get e :seq)) (op "persist/read" "s")))"), "(10 11)");
}

// The round's append-expects read their streams' last seqs in one call
// before it is planned; a read op in the round commits the writes before it,
// and the append-expect after it sees what they left, not what was read.
TEST_F(PersistOpsTest, ARoundsAppendExpectsCheckWhatTheWritesBeforeThemLeft) {
  ASSERT_EQ(Value(R"((get (op "persist/append" "b" {:seq 2}) :seq))"), "2");
  sx::Interpreter& in = host_->interp();
  auto args = [&](const char* src) { return Run(src).value; };
  sx::IoRequest round[5];
  const char* ops[][2] = {
      {"persist/append-expect", R"((list "a" 0 {:seq 1}))"},
      {"persist/append-expect", R"((list "b" 5 {:seq 6}))"},
      {"persist/last-seq", R"((list "a"))"},
      {"persist/append-expect", R"((list "a" 1 {:seq 2}))"},
      {"persist/append-next", R"((list "b" "t" 1 nil))"},
  };
  for (int i = 0; i < 5; ++i) {
    round[i].op = ops[i][0];
    round[i].args = args(ops[i][1]);
  }
  host_->persist()->HandleBatch(in, round);
  std::string got;
  for (const sx::IoRequest& q : round) {
    ASSERT_EQ(q.result.kind, sx::IoResult::kServed) << q.op << ": " << q.result.message;
    got += q.result.value.Inspect() + "\n";
  }
  EXPECT_EQ(got,
            "{:seq 1}\n"
            "{:actual 2 :conflict true :expected 5}\n"
            "1\n"
            "{:seq 2}\n"
            "{:at 1 :data nil :seq 3 :stream \"b\" :type \"t\"}\n");
}

// --- arguments checked before anything is written ------------------------------------

TEST_F(PersistOpsTest, AnEventWhoseStreamIsAnotherStreamIsRefused) {
  const char* writes[] = {
      R"((op "persist/append" "a" {:stream "b" :seq 1}))",
      R"((op "persist/append-expect" "a" 0 {:stream "b" :seq 1}))",
      R"((op "persist/append-batch" "a" (list {:stream "a" :seq 1} {:stream "b" :seq 2})))",
      R"((op "persist/commit" (list {:op "append" :stream "a" :event {:stream "b" :seq 1}})))",
      R"((op "persist/commit" (list {:op "append-expect" :stream "a" :expected 0
                                     :event {:stream "b" :seq 1}})))",
      R"((op "persist/append" "a" {:stream 7 :seq 1}))",
  };
  for (const char* w : writes) {
    std::string e = Error(w);
    EXPECT_NE(e.find("the event's :stream"), std::string::npos) << w << ": " << e;
    EXPECT_NE(e.find("stream \"a\""), std::string::npos) << w << ": " << e;
  }
  std::string v = Value(R"(
    (define (try f) (guard (e (true (error-message e))) (f)))
    (map await (list (spawn (fn () (try (fn () (op "persist/append" "a" {:stream "b" :seq 1})))))
                     (spawn (fn () (op "persist/kv-put" "k" 1)))))
  )");
  EXPECT_NE(v.find("the event's :stream"), std::string::npos) << v;
  EXPECT_EQ(Value(R"((list (op "persist/streams") (op "persist/kv-get" "k")))"), "(() 1)")
      << "only the kv-put was written";
}

TEST_F(PersistOpsTest, AnEventWithItsOwnStreamOrNoneIsStored) {
  EXPECT_EQ(Value(R"((get (op "persist/append" "a" {:stream "a" :seq 1}) :seq))"), "1");
  EXPECT_EQ(Value(R"((get (op "persist/append" "a" {:seq 2}) :seq))"), "2");
  EXPECT_EQ(Value(R"((get (op "persist/append-next" "a" "t" 1 nil) :stream))"), "\"a\"");
}

TEST_F(PersistOpsTest, ABlobsMimeMustBeAStringOrNil) {
  std::string e = Error(R"((op "blob/put" "bytes" 42))");
  EXPECT_NE(e.find("blob/put: argument 2 (mime) must be a string or nil, got 42"),
            std::string::npos)
      << e;
  EXPECT_EQ(Value(R"((get (op "persist/stats") :blobs))"), "0");
  EXPECT_EQ(Value(R"((= (op "blob/put" "bytes" "text/plain") (op "blob/put" "bytes" nil)
                        (op "blob/put" "bytes")))"),
            "true");
}

// --- long names in messages ----------------------------------------------------------

TEST_F(PersistOpsTest, AnErrorAboutAOneMebibyteNameShowsItCutWithItsSize) {
  ASSERT_EQ(Value(R"((define big (apply str (map (fn (_) "abcdefghijklmnop") (range 65536))))
                     (len big))"),
            "1048576");
  const char* cases[] = {
      R"((op "persist/append" big {:seq 0}))",
      R"((op "persist/append" big {:seq 1 :stream "x"}))",
      R"((op "persist/kv-put" (str big "!") 1))",
      R"((op "persist/kv-put" big (fn () 1)))",
      R"((op "persist/commit" (list {:op big})))",
      R"((op "persist/commit" (list {:op "kv-put" :key big :value (fn () 1)})))",
      R"((op "persist/read" "s" big))",
  };
  for (const char* c : cases) {
    std::string e = Error(c);
    EXPECT_LT(e.size(), 400u) << c << ": " << e.substr(0, 400);
    EXPECT_NE(e.find("bytes)"), std::string::npos) << c << ": " << e.substr(0, 400);
  }
  // The error's data keeps the whole name, for code that handles it.
  EXPECT_EQ(Value(R"((len (guard (e (true (get (error-data e) :stream)))
                             (op "persist/append" big {:seq 0}))))"),
            "1048576");
}

// --- an event's time -----------------------------------------------------------------

TEST_F(PersistOpsTest, AnEventsAtMustBeAnInteger) {
  const char* writes[] = {
      R"((op "persist/append" "s" {:seq 1 :at "noon"}))",
      R"((op "persist/append" "s" {:seq 1 :at 1.5}))",
      R"((op "persist/append-next" "s" "t" "2024-05-01" nil))",
      R"((op "persist/append-expect" "s" 0 {:seq 1 :at :now}))",
      R"((op "persist/append-batch" "s" (list {:seq 1 :at 1} {:seq 2 :at "2"})))",
      R"((op "persist/commit" (list {:op "append" :stream "s" :event {:seq 1 :at "x"}})))",
  };
  for (const char* w : writes) {
    std::string e = Error(w);
    EXPECT_NE(e.find(":at must be an integer"), std::string::npos) << w << ": " << e;
  }
  EXPECT_EQ(Value(R"((op "persist/last-seq" "s"))"), "0") << "nothing was written";
  EXPECT_EQ(Value(R"((list (get (op "persist/append" "s" {:seq 1 :at 1700000000000}) :at)
                           (get (op "persist/append-next" "s" "t" -5 nil) :at)
                           (get (op "persist/append" "s" {:seq 3}) :seq)))"),
            "(1700000000000 -5 3)");
}

}  // namespace
