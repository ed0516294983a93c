// pg_park_test.cc — a task waiting on the server parks instead of blocking
// the process: while an append waits for a table lock another session
// holds, the interpreter's other tasks keep running, requests that come
// meanwhile go together as the next group, and closing the store with the
// work parked finishes it first. Opening a session waits through the
// waiter too.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "host/cli/setup.h"
#include "host/ops/persist_ops.h"
#include "sx/sx.h"
#include "tests/pg/pg_fixture.h"

namespace sx::pg {
namespace {

// Another session holding `LOCK TABLE <table> IN EXCLUSIVE MODE`, so every
// insert into it waits. Released by Release(), or by a watchdog thread
// after `limit` (so that a process that blocks cannot hang the test).
class TableLock {
 public:
  TableLock(const std::string& url, const std::string& schema, const std::string& table,
            std::chrono::milliseconds limit) {
    EXPECT_TRUE(conn_.Connect(url).ok());
    Status s = conn_.Exec("BEGIN");
    if (s.ok()) s = conn_.Exec("LOCK TABLE " + schema + "." + table + " IN EXCLUSIVE MODE");
    EXPECT_TRUE(s.ok()) << s.ToString();
    watchdog_ = std::thread([this, limit] {
      std::unique_lock<std::mutex> l(mu_);
      if (!cv_.wait_for(l, limit, [this] { return released_; })) Commit();
    });
  }
  ~TableLock() {
    Release();
    watchdog_.join();
  }
  // True when this call released the lock (the watchdog had not).
  bool Release() {
    std::lock_guard<std::mutex> l(mu_);
    if (released_) return false;
    Commit();
    cv_.notify_all();
    return true;
  }
  bool released() {
    std::lock_guard<std::mutex> l(mu_);
    return released_;
  }

 private:
  void Commit() {
    EXPECT_TRUE(conn_.Exec("COMMIT").ok());
    released_ = true;
  }
  Conn conn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::thread watchdog_;
};

class PgParkTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    host::HostOptions opts;
    // Two groups at once whenever a round allows (not as the default,
    // auto, decides by measuring), so that the tests of it are certain.
    opts.data_dir = url_ + "&schema=" + schema_ + "&overlap=on";
    host_ = std::make_unique<host::Host>(opts);
    Interpreter& in = host_->interp();
    in.DefineNative("%release-lock", 0, 0, "", [this](Interpreter& in, std::span<const Value>) {
      return in.Bool(lock_ != nullptr && lock_->Release());
    });
    // The connection opened, its statements prepared, the stream's row made.
    Outcome o =
        Run("(define (op name &rest args) (perform {:op name :args args}))"
            "(op \"persist/append-expect\" \"s\" 0 {:seq 1})"
            "(op \"persist/append-expect\" \"other\" 0 {:seq 1})");
    ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  }
  void TearDown() override {
    lock_.reset();
    host_.reset();
    PgTest::TearDown();
  }
  Outcome Run(const std::string& src) {
    Interpreter& in = host_->interp();
    return in.Run(in.Eval(src));
  }
  // Runs src and checks its value's printed form.
  void ExpectValue(const std::string& src, const std::string& want) {
    Outcome o = Run(src);
    ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
    EXPECT_EQ(o.value.Inspect(), want) << src;
  }
  int64_t Commits() {
    Outcome o = Run("(get (op \"persist/stats\") :commits)");
    EXPECT_EQ(o.status, sx::Status::kDone) << o.error_text;
    return o.status == sx::Status::kDone ? o.value.AsInt() : -1;
  }

  // A round of appends whose first half finds a stream moved (below).
  void StaleFirstHalf(bool new_session);

  std::unique_ptr<host::Host> host_;
  std::unique_ptr<TableLock> lock_;
};

TEST_F(PgParkTest, OtherTasksRunWhileAnAppendWaitsForALock) {
  lock_ = std::make_unique<TableLock>(base_url_, schema_, "events", std::chrono::seconds(5));
  // The writer records how far the ticker had got when its append returned;
  // the ticker lifts the lock after 20 ticks of 5 ms. Were the process
  // blocked in the append, the watchdog would lift it and the ticker would
  // not have moved.
  Outcome o =
      Run("(define ticks 0)"
          "(define writer (spawn (fn ()"
          "  (let ((r (op \"persist/append-expect\" \"s\" 1 {:seq 2 :v \"x\"})))"
          "    (list (get r :seq) ticks)))))"
          "(define ticker (spawn (fn ()"
          "  (for-each (fn (i) (sleep 5) (set! ticks (+ ticks 1))) (range 20))"
          "  (%release-lock))))"
          "(list (await writer) (await ticker))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "((2 20) true)");
  ExpectValue("(map (fn (e) (get e :seq)) (op \"persist/read\" \"s\" 1))", "(1 2)");
}

TEST_F(PgParkTest, RequestsThatComeWhileParkedGoAsTheNextGroup) {
  int64_t commits = Commits();
  lock_ = std::make_unique<TableLock>(base_url_, schema_, "events", std::chrono::seconds(5));
  // The first append parks on the lock; three more come in later rounds
  // (one after another's answer would have been a round of its own) and
  // wait for it; they go as one group once it is done.
  Outcome o = Run(
      "(define first (spawn (fn () (get (op \"persist/append-expect\" \"s\" 1 {:seq 2}) :seq))))"
      "(define (later ms stream seq)"
      "  (spawn (fn () (sleep ms) (get (op \"persist/append-expect\" stream (- seq 1) {:seq seq})"
      "                           :seq))))"
      "(define rest (list (later 5 \"s\" 3) (later 10 \"other\" 2) (later 15 \"third\" 1)))"
      "(sleep 40)"
      "(define released (%release-lock))"
      "(list released (cons (await first) (map await rest)))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(true (2 3 2 1))");
  EXPECT_EQ(Commits() - commits, 2);  // the parked one, then the three together
}

TEST_F(PgParkTest, AGroupHeldUpOnTheServerDoesNotHoldUpTheNext) {
  int64_t commits = Commits();
  lock_ = std::make_unique<TableLock>(base_url_, schema_, "kv", std::chrono::seconds(5));
  // The kv-put parks on the lock. The append comes after it and, once the
  // put is held up, goes on a second connection; then this task lifts the
  // lock itself. Had the append waited for the put to end, it would have
  // come back only after the watchdog lifted the lock, after the put.
  ExpectValue(
      "(define appended nil)"
      "(define put (spawn (fn () (op \"persist/kv-put\" \"k\" 1) appended)))"
      "(sleep 10)"
      "(set! appended (get (op \"persist/append-expect\" \"s\" 1 {:seq 2}) :seq))"
      "(list (%release-lock) (await put))",
      "(true 2)");
  EXPECT_EQ(Commits() - commits, 2);  // the counters are the process's, whichever connection
  ExpectValue("(list (op \"persist/kv-get\" \"k\") (op \"persist/last-seq\" \"s\"))", "(1 2)");
  ExpectValue(
      "(map (fn (k) (get (op \"persist/stats\") k))"
      "     (list :extra-connections :extra-connection-failures))",
      "(1 0)");
}

TEST_F(PgParkTest, WaitsDoNotHoldUpTheOtherTasksOps) {
  // Two tasks wait for a commit, which does not come, the second once the
  // first is held up; then this task reads and appends. Waits have a lane
  // of their own, so the read is answered while both still wait. Were the
  // waits on the two lanes of groups, the read would wait for the first to
  // end (1.5 s). (A read: this process's own append would end the waits.)
  ExpectValue(
      "(define pos (get (op \"persist/wait\" nil 0) :position))"
      "(define waits-done 0)"
      "(define (waiter)"
      "  (spawn (fn () (op \"persist/wait\" pos 1500) (set! waits-done (+ waits-done 1)))))"
      "(define w1 (waiter))"
      "(sleep 60)"
      "(define w2 (waiter))"
      "(sleep 60)"
      "(define last (op \"persist/last-seq\" \"s\"))"
      "(define done-then waits-done)"
      "(define appended (get (op \"persist/append-expect\" \"s\" 1 {:seq 2}) :seq))"
      "(await w1)"
      "(await w2)"
      "(list last done-then appended waits-done)",
      "(1 0 2 2)");
}

TEST_F(PgParkTest, AWaitEndsAtItsOwnTimeBesideLongerOnes) {
  // The short wait comes while two long ones wait; it ends first. On the
  // two lanes of groups it would wait for the first long one to end.
  ExpectValue(
      "(define pos (get (op \"persist/wait\" nil 0) :position))"
      "(define order ())"
      "(define (waiter name ms)"
      "  (spawn (fn () (op \"persist/wait\" pos ms) (set! order (cons name order)))))"
      "(define long1 (waiter :long 2000))"
      "(sleep 60)"
      "(define long2 (waiter :long 2000))"
      "(sleep 60)"
      "(define short (waiter :short 200))"
      "(for-each await (list short long1 long2))"
      "(reverse order)",
      "(:short :long :long)");
}

TEST_F(PgParkTest, ACommitElsewhereAnswersEveryWait) {
  // Three waits with 5 s to wait; another handle commits after 100 ms, and
  // each wait comes back with the position past the one it waited on.
  std::thread writer;
  host_->interp().DefineNative("%commit-elsewhere", 0, 0, "",
                               [&](Interpreter& in, std::span<const Value>) {
                                 writer = std::thread([this] {
                                   std::this_thread::sleep_for(std::chrono::milliseconds(100));
                                   store::WriteBatch b;
                                   b.Append("other", 2, "x");
                                   EXPECT_TRUE(db_->Commit(b).ok());
                                 });
                                 return in.Nil();
                               });
  ExpectValue(
      "(define pos (get (op \"persist/wait\" nil 0) :position))"
      "(define (waiter) (spawn (fn () (get (op \"persist/wait\" pos 5000) :position))))"
      "(define ws (list (waiter) (waiter) (waiter)))"
      "(%commit-elsewhere)"
      "(map (fn (w) (> (await w) pos)) ws)",
      "(true true true)");
  writer.join();
  ExpectValue("(op \"persist/last-seq\" \"other\")", "2");
}

TEST_F(PgParkTest, TwoLanesAppendingToOneStreamLeaveItsSeqsDense) {
  lock_ = std::make_unique<TableLock>(base_url_, schema_, "kv", std::chrono::seconds(5));
  // The first task's commit takes s's lock, then parks on the kv table. The
  // second task's append to s goes on the second lane once the first is
  // held up, and waits for s's lock on the server. Once the table is free
  // the first commits s's seq 2, and the second finds it taken: a conflict,
  // though the marks the process remembers said seq 2 was next. Then s
  // runs on from 2.
  ExpectValue(
      "(define both (spawn (fn () (op \"persist/commit\""
      "  (list {:op \"append\" :stream \"s\" :event {:seq 2}}"
      "        {:op \"kv-put\" :key \"k\" :value 1})))))"
      "(define second (spawn (fn () (sleep 10)"
      "  (op \"persist/append-expect\" \"s\" 1 {:seq 2 :by \"second\"}))))"
      "(sleep 120)"
      "(define released (%release-lock))"
      "(list released (await both) (await second)"
      "      (get (op \"persist/append-expect\" \"s\" 2 {:seq 3}) :seq))",
      "(true true {:actual 2 :conflict true :expected 1} 3)");
  ExpectValue("(map (fn (e) (get e :by)) (op \"persist/read\" \"s\" 1))", "(nil nil nil)");
  ExpectValue("(op \"persist/last-seq\" \"s\")", "3");
}

TEST_F(PgParkTest, WithoutASecondConnectionTheNextGroupWaitsForTheHeldUpOne) {
  // A role allowed one connection: the second lane and the wait lane
  // cannot open, and the service keeps to one, as before there were more.
  std::string role = schema_ + "_one", schema = schema_ + "_one";
  Rows db;
  ASSERT_TRUE(admin_.Run("db", "SELECT current_database()::text", {}, &db).ok());
  ASSERT_TRUE(admin_.Exec("CREATE ROLE " + role + " LOGIN PASSWORD 'one' CONNECTION LIMIT 1").ok());
  ASSERT_TRUE(admin_.Exec("GRANT CREATE ON DATABASE " + db.Bytes(0, 0) + " TO " + role).ok());
  size_t at = base_url_.find('@'), scheme = base_url_.find("://");
  ASSERT_TRUE(at != std::string::npos && scheme != std::string::npos) << base_url_;
  std::string url = base_url_.substr(0, scheme + 3) + role + ":one" + base_url_.substr(at);
  {
    host::HostOptions opts;
    opts.data_dir = url + (url.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema;
    host::Host host(opts);
    Interpreter& in = host.interp();
    std::unique_ptr<TableLock> lock;
    in.DefineNative("%lock-kv", 0, 0, "", [&](Interpreter& in, std::span<const Value>) {
      lock = std::make_unique<TableLock>(base_url_, schema, "kv", std::chrono::milliseconds(300));
      return in.Bool(true);
    });
    // The put parks on the lock until the watchdog lifts it; the append
    // waits for it, and comes back after it.
    Outcome o =
        in.Run(in.Eval("(define (op name &rest args) (perform {:op name :args args}))"
                       "(op \"persist/append-expect\" \"s\" 0 {:seq 1})"
                       "(%lock-kv)"
                       "(define appended nil)"
                       "(define put (spawn (fn () (op \"persist/kv-put\" \"k\" 1) appended)))"
                       "(sleep 10)"
                       "(set! appended (get (op \"persist/append-expect\" \"s\" 1 {:seq 2}) :seq))"
                       "(define (stat k) (get (op \"persist/stats\") k))"
                       "(list (await put) appended (stat :commits)"
                       "      (stat :extra-connections) (stat :extra-connection-failures))"));
    ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
    // The one failure is counted, and the service did not try again.
    EXPECT_EQ(o.value.Inspect(), "(nil 2 3 0 1)");
    EXPECT_TRUE(lock != nullptr && lock->released());
    // A wait's lane cannot open its connection either: the wait goes to
    // lane 0, and is answered there, after its time.
    o =
        in.Run(in.Eval("(define pos (get (op \"persist/wait\" nil 0) :position))"
                       "(define w (op \"persist/wait\" pos 200))"
                       "(list (= (get w :position) pos) (get w :blocking) (stat :extra-connections)"
                       "      (stat :extra-connection-failures))"));
    ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
    EXPECT_EQ(o.value.Inspect(), "(true true 0 2)");
  }
  EXPECT_TRUE(admin_.Exec("DROP SCHEMA " + schema + " CASCADE").ok());
  EXPECT_TRUE(admin_.Exec("DROP OWNED BY " + role).ok());
  EXPECT_TRUE(admin_.Exec("DROP ROLE " + role).ok());
}

TEST_F(PgParkTest, WritesAcrossLanesThatComeAndGoLoseNothing) {
  // Another session takes the kv table for 80 ms out of every 100, so
  // groups with a kv-put are held up again and again, and the requests
  // that come meanwhile move to the second lane and back. Four tasks put
  // keys; twelve append to their own streams and four append-next to one
  // shared stream, each with pauses of its own so that they come apart.
  std::atomic<bool> stop{false};
  std::thread locker([&] {
    Conn c;
    ASSERT_TRUE(c.Connect(base_url_).ok());
    while (!stop) {
      ASSERT_TRUE(c.Exec("BEGIN").ok());
      ASSERT_TRUE(c.Exec("LOCK TABLE " + schema_ + ".kv IN EXCLUSIVE MODE").ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(80));
      ASSERT_TRUE(c.Exec("COMMIT").ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  Outcome o = Run(
      "(define (puts t)"
      "  (spawn (fn () (for-each (fn (i) (op \"persist/kv-put\" (str \"k\" t) i) (sleep 5))"
      "                          (range 8)))))"
      "(define (own t)"
      "  (spawn (fn () (for-each (fn (i)"
      "    (op \"persist/append-expect\" (str \"own\" t) i {:seq (+ i 1)})"
      "    (sleep (mod (* t i) 7)))"
      "    (range 30)))))"
      "(define (shared t)"
      "  (spawn (fn () (for-each (fn (i) (op \"persist/append-next\" \"shared\" \"e\" 0 t)"
      "                                  (sleep (mod (* 3 t i) 5)))"
      "                          (range 20)))))"
      "(for-each await (append (map puts (range 4)) (map own (range 12)) (map shared (range 4))))"
      "(list (map (fn (t) (map (fn (e) (get e :seq)) (op \"persist/read\" (str \"own\" t) 1)))"
      "           (range 12))"
      "      (map (fn (t) (op \"persist/kv-get\" (str \"k\" t))) (range 4))"
      "      (map (fn (e) (get e :seq)) (op \"persist/read\" \"shared\" 1)))");
  stop = true;
  locker.join();
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  auto seqs = [](int n) {
    std::string s = "(";
    for (int i = 1; i <= n; ++i) s += std::to_string(i) + (i < n ? " " : ")");
    return s;
  };
  std::string own = "(";
  for (int t = 0; t < 12; ++t) own += seqs(30) + (t < 11 ? " " : ")");
  EXPECT_EQ(o.value.Inspect(), "(" + own + " (7 7 7 7) " + seqs(80) + ")");
}

TEST_F(PgParkTest, ClosingTheStoreFinishesParkedWorkFirst) {
  lock_ = std::make_unique<TableLock>(base_url_, schema_, "events", std::chrono::milliseconds(300));
  // %persist-restart closes the store while the append is parked: the
  // close waits for it (the watchdog lifts the lock), the append is
  // answered, and the store reopens for the next op.
  Outcome o =
      Run("(define w (spawn (fn () (get (op \"persist/append-expect\" \"s\" 1 {:seq 2}) :seq))))"
          "(sleep 20)"
          "(%persist-restart)"
          "(list (await w) (get (op \"persist/append-expect\" \"s\" 2 {:seq 3}) :seq))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(2 3)");
  EXPECT_TRUE(lock_->released());
}

TEST_F(PgParkTest, ClosingTheStoreAnswersTheWaitsFirst) {
  // The wait is on the wait lane when the store closes: the close waits
  // for it to end (its time, 300 ms), it is answered, and after the store
  // reopens a wait opens the wait lane's connection again (the counters
  // start again with the store).
  ExpectValue(
      "(define pos (get (op \"persist/wait\" nil 0) :position))"
      "(define w (spawn (fn () (get (op \"persist/wait\" pos 300) :position))))"
      "(sleep 20)"
      "(%persist-restart)"
      "(list (= (await w) pos) (get (op \"persist/append-expect\" \"s\" 1 {:seq 2}) :seq)"
      "      (> (get (op \"persist/wait\" pos 1000) :position) pos)"
      "      (get (op \"persist/stats\") :extra-connections))",
      "(true 2 true 1)");
}

// --- two groups on the server at once, on one connection -------------------

// `tasks` tasks append `n` events each to streams "<prefix><t>", seqs 1..n:
// the SX source, and the answer its check gives when every stream holds
// exactly those seqs.
std::string Writers(const std::string& prefix, int tasks, int n) {
  return "(define (writer name n)"
         "  (fn () (for-each (fn (i) (op \"persist/append\" name {:seq (+ i 1)})) (range n))))"
         "(for-each await (map (fn (t) (spawn (writer (str \"" +
         prefix + "\" t) " + std::to_string(n) + "))) (range " + std::to_string(tasks) +
         ")))"
         "(filter (fn (t) (not (= (map (fn (e) (get e :seq)) (op \"persist/read\" (str \"" +
         prefix + "\" t) 1)) (map (fn (i) (+ i 1)) (range " + std::to_string(n) + "))))) (range " +
         std::to_string(tasks) + "))";
}

TEST_F(PgParkTest, ALargeRoundGoesAsTwoGroupsOnOneConnection) {
  // 64 tasks append at once: each round goes as two groups, the second sent
  // while the first is on the server, on the one connection. Every stream
  // ends with its seqs dense; no second connection was opened for it.
  ExpectValue(Writers("w", 64, 30), "()");
  ExpectValue(
      "(let ((st (op \"persist/stats\")))"
      "  (list (> (get st :commits-overlapped) 20) (get st :extra-connections)"
      "        (get st :commit-retries)))",
      "(true 0 0)");
}

TEST_F(PgParkTest, ARoundOfOtherOpsOrOfOneStreamGoesAsOneGroup) {
  // Halves that could not go beside each other are not made: 64 kv-puts,
  // then 64 appends to one stream, go as one group each. (The appends'
  // seqs are the tasks' numbers; those that come in the round after a
  // higher one are refused.)
  ExpectValue(
      "(define (commits) (get (op \"persist/stats\") :commits))"
      "(define c0 (commits))"
      "(for-each await (map (fn (t) (spawn (fn () (op \"persist/kv-put\" (str \"k\" t) t))))"
      "                     (range 64)))"
      "(define c1 (commits))"
      "(for-each await (map (fn (t) (spawn (fn () (guard (e (true nil))"
      "                                      (op \"persist/append\" \"one\" {:seq (+ t 1)})))))"
      "                     (range 64)))"
      "(list (- c1 c0) (- (commits) c1) (get (op \"persist/stats\") :commits-overlapped))",
      "(1 1 0)");
}

TEST_F(PgParkTest, OverlapOffInTheUrlSendsEachRoundAsOneGroup) {
  // The same rounds with overlap=off: one group each, no group beside
  // another. A value other than on or off is refused at open.
  auto run = [&](const std::string& params, const std::string& src) {
    host::HostOptions opts;
    opts.data_dir = url_ + "&schema=" + schema_ + "&" + params;
    host::Host h(opts);
    Interpreter& in = h.interp();
    Outcome o =
        in.Run(in.Eval("(define (op name &rest args) (perform {:op name :args args}))" + src));
    return o.status == sx::Status::kDone ? o.value.Inspect() : o.error_text;
  };
  EXPECT_EQ(run("overlap=off", Writers("o", 64, 10) +
                                   "(let ((st (op \"persist/stats\")))"
                                   "  (list (get st :commits-overlapped) (get st :commits)))"),
            "(0 10)");  // one group a round
  std::string refused = run("overlap=maybe", "(op \"persist/streams\")");
  EXPECT_NE(refused.find("overlap \"maybe\": use on, off or auto"), std::string::npos) << refused;
}

// 40 streams with one event each, then another process appends seq 2 to
// m0. A round of 40 appends of seq 2 goes as two groups of 20: the first
// (m0's) finds m0 moved on the server and takes the long way, where m0's
// append is refused and the other 19 land; the second, sent behind it,
// lands whole. With `new_session`, the session ends before the round and a
// read opens the next: the round's first group then prepares the
// statements both groups run, and fails before it gets to COMMIT's.
void PgParkTest::StaleFirstHalf(bool new_session) {
  ExpectValue(
      "(for-each (fn (t) (op \"persist/append\" (str \"m\" t) {:seq 1})) (range 40))"
      "(count (op \"persist/streams\"))",
      "42");
  {
    host::HostOptions opts;
    opts.data_dir = url_ + "&schema=" + schema_;
    host::Host other(opts);
    Interpreter& in = other.interp();
    Outcome o =
        in.Run(in.Eval("(get (perform {:op \"persist/append-expect\" :args (list \"m0\" 1 {:seq 2 "
                       ":by 1})}) :seq)"));
    ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
    EXPECT_EQ(o.value.Inspect(), "2");
  }
  if (new_session) {
    TerminateSessions();
    ExpectValue("(op \"persist/last-seq\" \"m1\")", "1");
  }
  ExpectValue(
      "(define before (op \"persist/stats\"))"
      "(define answers (map await (map (fn (t) (spawn (fn ()"
      "  (guard (e (true (error-message e)))"
      "    (get (op \"persist/append\" (str \"m\" t) {:seq 2 :by 0}) :seq)))))"
      "  (range 40))))"
      "(define after (op \"persist/stats\"))"
      "(list (first answers) (filter (fn (a) (not (= a 2))) (rest answers))"
      "      (map (fn (k) (- (get after k) (get before k)))"
      "           (list :one-trip-misses :commits-overlapped)))",
      "(\"persist/append: stream \\\"m0\\\": conflict: seq 2 is not above the last seq 2 "
      "(expected 3)\" () (1 1))");
  ExpectValue(
      "(map (fn (t) (get (first (op \"persist/read\" (str \"m\" t) 2)) :by)) (list 0 1 39))",
      "(1 0 0)");
}

TEST_F(PgParkTest, AFlightThatFindsItsStreamMovedLeavesTheOneBesideItAlone) {
  StaleFirstHalf(/*new_session=*/false);
}

TEST_F(PgParkTest, AFlightThatFailsBeforeItsPreparesEndsLeavesTheOneBehindItWhole) {
  StaleFirstHalf(/*new_session=*/true);
}

TEST_F(PgParkTest, SessionsEndedWithTwoGroupsOutLoseNothing) {
  // 64 tasks append, with two groups out at a time, while another thread
  // ends this test's server sessions five times, each once 640 more events
  // have landed. A group that failed is sent again, and one whose answer
  // was lost is decided by reading back: every task ends without an error
  // and every stream holds its seqs once each, 1 to its task's last.
  std::atomic<bool> done{false};
  std::atomic<int> ended{0};
  std::thread killer([&] {
    struct Done {
      std::atomic<bool>* done;
      ~Done() { *done = true; }
    } at_end{&done};
    Conn c;
    ASSERT_TRUE(c.Connect(base_url_).ok());
    auto events = [&] {
      Rows rows;
      EXPECT_TRUE(
          c.Run("events", ("SELECT count(*) FROM " + schema_ + ".events").c_str(), {}, &rows).ok());
      return rows.size() == 1 ? rows.Int8(0, 0) : 0;
    };
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int kill = 0; kill < 5 && std::chrono::steady_clock::now() < give_up; ++kill) {
      int64_t from = events();
      while (events() < from + 640 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      Rows rows;
      ASSERT_TRUE(c.Run("kill",
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int8 "
                        "FROM pg_stat_activity WHERE application_name = $1 AND "
                        "pid <> pg_backend_pid()",
                        {TextParam(schema_)}, &rows)
                      .ok());
      ended += static_cast<int>(rows.Int8(0, 0));
    }
  });
  host_->interp().DefineNative("%killing", 0, 0, "", [&](Interpreter& in, std::span<const Value>) {
    return in.Bool(!done);
  });
  Outcome o = Run(
      "(define (go name i)"
      "  (if (%killing) (do (op \"persist/append\" name {:seq i}) (go name (+ i 1))) (- i 1)))"
      "(define lasts (map await (map (fn (t) (spawn (fn () (go (str \"k\" t) 1)))) (range 64))))"
      "(define (seqs t) (map (fn (e) (get e :seq)) (op \"persist/read\" (str \"k\" t) 1)))"
      "(define (dense n) (map (fn (i) (+ i 1)) (range n)))"
      "(list (> (apply min lasts) 0)"
      "      (filter (fn (t) (not (= (seqs t) (dense (nth lasts t))))) (range 64)))");
  done = true;
  killer.join();
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(true ())");
  EXPECT_GE(ended, 5);
  ExpectValue(
      "(let ((st (op \"persist/stats\")))"
      "  (list (> (get st :commits-overlapped) 0)"
      "        (> (+ (get st :commit-retries) (get st :commit-read-backs)) 0)))",
      "(true true)");
}

// A server that takes the connection and never answers: the kernel
// completes the TCP handshake into the listen backlog, and libpq then waits
// for the answer to its startup packet.
TEST(PgConnect, OpeningASessionWaitsThroughTheWaiter) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string url = "postgresql://sx@127.0.0.1:" + std::to_string(ntohs(a.sin_port)) +
                    "/sx?connect_timeout=1&sslmode=disable";

  Conn c;
  int waits = 0;
  c.set_waiter([&](int sock, short events, int timeout_ms) {
    ++waits;
    EXPECT_GE(sock, 0);
    pollfd p{sock, events, 0};
    poll(&p, 1, timeout_ms);
  });
  auto start = std::chrono::steady_clock::now();
  Status s = c.Connect(url);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("timeout"), std::string::npos) << s.ToString();
  EXPECT_GT(waits, 0);                              // libpq did not wait on the socket itself
  EXPECT_GE(took, std::chrono::milliseconds(900));  // connect_timeout=1 was kept
  close(fd);
}

}  // namespace
}  // namespace sx::pg
