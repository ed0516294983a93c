// tasks_test.cc — the scheduler: batches, tokens, deadlock, cancellation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sx/sx.h"

namespace {

class TasksTest : public ::testing::Test {
 protected:
  TasksTest() {
    in.AddBatchIoHandler([this](sx::Interpreter& in, std::span<sx::IoRequest> batch) {
      rounds.push_back(batch.size());
      for (sx::IoRequest& q : batch) {
        if (q.op != "t/echo") continue;
        ++echoes;
        q.result = sx::IoResult::Served(q.args.Items()[0]);
      }
      (void)in;
    });
  }
  sx::Outcome Run(const std::string& src) { return in.Run(in.Eval(src)); }

  sx::Interpreter in;
  std::vector<size_t> rounds;
  int echoes = 0;
};

TEST_F(TasksTest, ProgramsWithoutTasksRunAsBefore) {
  sx::Outcome o = Run("(+ 1 (perform {:op \"t/echo\" :args (list 41)}))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 42);
  o = Run("(perform {:op \"t/none\"})");
  ASSERT_EQ(o.status, sx::Status::kError);
  EXPECT_NE(o.error_text.find("no handler for op \"t/none\""), std::string::npos);
}

TEST_F(TasksTest, RequestsOfOneRoundArriveAsOneBatch) {
  sx::Outcome o =
      Run("(define ts (map (fn (i) (spawn (fn () (* 2 (perform {:op \"t/echo\" :args (list i)})))))"
          "  (range 64)))"
          "(reduce + 0 (map await ts))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 63 * 64);
  ASSERT_FALSE(rounds.empty());
  EXPECT_EQ(rounds[0], 64u);
  EXPECT_EQ(echoes, 64);
}

TEST_F(TasksTest, EachTaskGetsItsOwnAnswerOrError) {
  in.AddIoHandler(
      [](sx::Interpreter&, std::string_view op, const sx::Value& args, const sx::Value&) {
        if (op != "t/fail") return sx::IoResult::Pass();
        return sx::IoResult::Failed("failed " + args.Items()[0].Inspect());
      });
  sx::Outcome o =
      Run("(define (job i) (if (even? i) (perform {:op \"t/echo\" :args (list i)})"
          "                    (perform {:op \"t/fail\" :args (list i)})))"
          "(map (fn (t) (guard (e (true (error-message e))) (await t)))"
          "     (map (fn (i) (spawn (fn () (job i)))) (range 4)))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(0 \"failed 1\" 2 \"failed 3\")");
}

TEST_F(TasksTest, DeadlockRaisesIntoTheMainTask) {
  sx::Outcome o =
      Run("(define a nil)"
          "(define b (spawn (fn () (yield) (await a))))"
          "(set! a (spawn (fn () (await b))))"
          "(await a)");
  ASSERT_EQ(o.status, sx::Status::kError);
  EXPECT_NE(o.error_text.find("deadlock"), std::string::npos) << o.error_text;
}

TEST_F(TasksTest, CancelledTasksRequestIsNotServed) {
  sx::Outcome o =
      Run("(define t (spawn (fn () (perform {:op \"t/echo\" :args (list 1)}))))"
          "(yield)"  // t runs and suspends on its request
          "(cancel t)"
          "(list (task-done? t) (guard (e (true (error-message e))) (await t)))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(true \"cancelled\")");
  EXPECT_EQ(echoes, 0);
  EXPECT_EQ(in.stale_resumes(), 1u);
}

TEST_F(TasksTest, MainEndsThenSpawnedTasksDrain) {
  sx::Outcome o = Run("(define log ()) (spawn (fn () (sleep 5) (set! log (cons :late log)))) 1");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 1);
  o = Run("log");
  EXPECT_EQ(o.value.Inspect(), "(:late)");
}

TEST_F(TasksTest, TaskValuesPrintWithTheirNumber) {
  sx::Outcome o = Run("(define t (spawn (fn () 1))) (list (inspect t) (task-id t) (type-of t))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  std::vector<sx::Value> v = o.value.Items();
  EXPECT_EQ(v[0].AsString(), "#<task " + std::to_string(v[1].AsInt()) + ">");
  EXPECT_EQ(v[2].AsString(), "task");
}

}  // namespace
