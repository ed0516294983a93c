// later_test.cc — requests a handler answers later (IoResult::Later): the
// other tasks run meanwhile, Run polls instead of returning or calling it a
// deadlock, and a stale answer is counted, never acted on.
#include <gtest/gtest.h>
#include <time.h>

#include <functional>
#include <string>
#include <vector>

#include "sx/sx.h"

namespace {

class LaterTest : public ::testing::Test {
 protected:
  LaterTest() {
    in.AddBatchIoHandler([this](sx::Interpreter&, std::span<sx::IoRequest> batch) {
      for (sx::IoRequest& q : batch) {
        if (q.op == "t/echo") q.result = sx::IoResult::Served(q.args.Items()[0]);
        if (q.op != "t/later") continue;
        pending.push_back(Pending{q.token, q.args.Items()[0].AsInt()});
        q.result = sx::IoResult::Later();
      }
    });
  }
  void SetPoller() {
    in.SetIoPoller([this](sx::Interpreter& in, int64_t timeout_ns) {
      timeouts.push_back(timeout_ns);
      if (timeout_ns > 0) {
        timespec ts{0, static_cast<long>(timeout_ns % 1000000000)};
        nanosleep(&ts, nullptr);
      }
      bool due = when ? when() : static_cast<int>(timeouts.size()) >= answer_on_poll;
      if (!due) return;
      std::vector<Pending> now;
      now.swap(pending);
      for (const Pending& p : now) {
        answers.push_back(in.Answer(p.token, answer(p.arg)));
        ticks_at_answer = in.Global("ticks").IsInt() ? in.Global("ticks").AsInt() : -1;
      }
    });
  }
  sx::Outcome Run(const std::string& src) { return in.Run(in.Eval(src)); }

  struct Pending {
    uint64_t token;
    int64_t arg;
  };
  sx::Interpreter in;
  std::vector<Pending> pending;
  std::vector<int64_t> timeouts;
  std::vector<bool> answers;
  int answer_on_poll = 1;
  std::function<bool()> when;  // answer once true (else on poll answer_on_poll)
  int64_t ticks_at_answer = -1;
  std::function<sx::IoResult(int64_t)> answer = [this](int64_t arg) {
    return sx::IoResult::Served(in.Int(arg * 10));
  };
};

TEST_F(LaterTest, OtherTasksRunWhileARequestWaitsForItsAnswer) {
  when = [this] { return in.Global("ticks").AsInt() >= 3; };
  SetPoller();
  sx::Outcome o =
      Run("(define ticks 0)"
          "(define slow (spawn (fn () (perform {:op \"t/later\" :args (list 7)}))))"
          "(define ticker (spawn (fn () (for-each (fn (i) (sleep 2) (set! ticks (+ ticks 1)))"
          "                                       (range 10)))))"
          "(list (await slow) (await ticker) ticks)");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(70 nil 10)");
  ASSERT_EQ(answers, std::vector<bool>{true});
  EXPECT_EQ(ticks_at_answer, 3);  // the ticker ran while the answer was outstanding
  // Sleepers bound the wait: the poller is told how long until the next wake.
  ASSERT_FALSE(timeouts.empty());
  for (int64_t t : timeouts) {
    EXPECT_GE(t, 0);
    EXPECT_LE(t, 2000000);
  }
  EXPECT_EQ(in.outstanding_answers(), 0u);
}

TEST_F(LaterTest, RunWaitsForOutstandingAnswersInsteadOfReturning) {
  answer_on_poll = 3;
  SetPoller();
  // The main computation awaits a task that waits on a later answer: that
  // is no deadlock.
  sx::Outcome o = Run("(+ 1 (await (spawn (fn () (perform {:op \"t/later\" :args (list 4)})))))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 41);
  // Nothing else to run and nobody sleeping: no limit on the wait.
  ASSERT_EQ(timeouts.size(), 3u);
  EXPECT_EQ(timeouts[0], -1);
}

TEST_F(LaterTest, PollerIsToldNotToWaitWhileTasksAreReady) {
  answer_on_poll = 2;
  SetPoller();
  sx::Outcome o =
      Run("(define a (spawn (fn () (perform {:op \"t/later\" :args (list 1)}))))"
          "(define b (spawn (fn () (perform {:op \"t/echo\" :args (list 2)}))))"
          "(list (await a) (await b))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(10 2)");
  ASSERT_FALSE(timeouts.empty());
  EXPECT_EQ(timeouts[0], 0);  // b was answered in the same round and is ready
}

TEST_F(LaterTest, AnswerForACancelledTaskIsStaleAndCounted) {
  when = [this] { return in.Global("cancelled").Truthy(); };
  SetPoller();
  uint64_t stale_before = in.stale_resumes();
  sx::Outcome o =
      Run("(define t (spawn (fn () (perform {:op \"t/later\" :args (list 1)}))))"
          "(sleep 1)"
          "(define cancelled (cancel t))"
          "(guard (e (true (error-message e))) (await t))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsString(), "cancelled");
  // Run still waited for the answer, which was then rejected.
  ASSERT_EQ(answers, std::vector<bool>{false});
  EXPECT_EQ(in.stale_resumes(), stale_before + 1);
  EXPECT_EQ(in.outstanding_answers(), 0u);
  // A token never taken for later, or answered twice, is stale too.
  EXPECT_FALSE(in.Answer(12345, sx::IoResult::Served(in.Int(1))));
  EXPECT_EQ(in.stale_resumes(), stale_before + 2);
}

TEST_F(LaterTest, ErrorAnswersRaiseInTheirTask) {
  answer = [this](int64_t arg) {
    if (arg == 1) return sx::IoResult::Failed("boom", in.Int(99));
    return sx::IoResult::Pass();  // not an answer
  };
  SetPoller();
  sx::Outcome o =
      Run("(define (try n) (guard (e (true (list (error-message e) (error-data e))))"
          "  (perform {:op \"t/later\" :args (list n)})))"
          "(list (try 1) (try 2))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "((\"boom\" 99) (\"no answer\" nil))");
}

TEST_F(LaterTest, LaterWithoutAPollerFailsTheRequest) {
  sx::Outcome o = Run("(perform {:op \"t/later\" :args (list 1)})");
  ASSERT_EQ(o.status, sx::Status::kError);
  EXPECT_NE(o.error_text.find("host set no IO poller"), std::string::npos) << o.error_text;
  EXPECT_EQ(in.outstanding_answers(), 0u);
}

}  // namespace
