// fairness_test.cc — the scheduler shares each round fairly: a sleeper whose
// time has come runs even while other tasks keep doing IO, and when tasks
// race for one seq the winner is not always the same task. Measured in
// rounds and counts, never in wall-clock time.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "host/cli/setup.h"
#include "sx/sx.h"

namespace {

TEST(Fairness, ASleeperWhoseTimeHasComeWakesWhileAnotherTaskKeepsDoingIo) {
  sx::Interpreter in;
  int rounds = 0;
  in.AddIoHandler(
      [&rounds](sx::Interpreter&, std::string_view op, const sx::Value& args, const sx::Value&) {
        if (op != "t/echo") return sx::IoResult::Pass();
        ++rounds;
        return sx::IoResult::Served(args.Items()[0]);
      });
  sx::Outcome o = in.Run(in.Eval(R"(
    (define done 0)
    (define woke-after nil)
    (define busy (spawn (fn ()
      (let loop ((i 0))
        (when (< i 200)
          (perform {:op "t/echo" :args (list i)})
          (set! done (+ done 1))
          (loop (+ i 1)))))))
    (define sleeper (spawn (fn () (sleep 0) (set! woke-after done))))
    (await busy)
    (await sleeper)
    woke-after)"));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(rounds, 200);
  // Due at once: it must run within a round or two of the busy task's IO,
  // not after all 200 of them.
  EXPECT_LE(o.value.AsInt(), 2) << "the sleeper woke only after " << o.value.AsInt()
                                << " rounds of the other task's IO";
}

TEST(Fairness, SleepersWakeInTheOrderTheyAreDueWhileIoGoesOn) {
  sx::Interpreter in;
  in.AddIoHandler(
      [](sx::Interpreter&, std::string_view op, const sx::Value& args, const sx::Value&) {
        if (op != "t/echo") return sx::IoResult::Pass();
        return sx::IoResult::Served(args.Items()[0]);
      });
  sx::Outcome o = in.Run(in.Eval(R"(
    (define order ())
    (define busy (spawn (fn ()
      (let loop ((i 0)) (when (< i 100) (perform {:op "t/echo" :args (list i)}) (loop (+ i 1)))))))
    (define sleepers (map (fn (i) (spawn (fn () (sleep 0) (set! order (cons i order)))))
                          (range 5)))
    (for-each await sleepers)
    (define all-woke-while-busy (not (task-done? busy)))
    (await busy)
    (list all-woke-while-busy (reverse order)))"));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(true (0 1 2 3 4))");
}

class FairCommitTest : public ::testing::Test {
 protected:
  FairCommitTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sx-fair-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    sx::host::HostOptions opts;
    opts.data_dir = dir_ + "/data";
    opts.sync = "never";
    host_ = std::make_unique<sx::host::Host>(opts);
  }
  ~FairCommitTest() override {
    host_.reset();
    std::filesystem::remove_all(dir_);
  }
  sx::Outcome Run(const std::string& src) {
    sx::Interpreter& in = host_->interp();
    return in.Run(in.Eval(src));
  }

  std::string dir_;
  std::unique_ptr<sx::host::Host> host_;
};

// Four tasks read the last seq together and race append-expect for the next
// one, every round, until the stream has 400 events. Each should win about a
// quarter; before, the task spawned first won all 400.
TEST_F(FairCommitTest, TasksRacingForTheSameSeqEachWinAShare) {
  sx::Outcome o = Run(R"(
    (define (op name &rest args) (perform {:op name :args args}))
    (define (racer i)
      (let loop ()
        (let ((last (op "persist/last-seq" "fair")))
          (when (< last 400)
            (op "persist/append-expect" "fair" last {:seq (+ last 1) :by i})
            (loop)))))
    (for-each await (map (fn (i) (spawn (fn () (racer i)))) (range 4)))
    (define events (op "persist/read" "fair"))
    (list (len events)
          (map (fn (i) (len (filter (fn (e) (= (get e :by) i)) events))) (range 4))))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  std::vector<sx::Value> r = o.value.Items();
  ASSERT_EQ(r[0].AsInt(), 400);
  std::string spread = r[1].Inspect();
  for (const sx::Value& wins : r[1].Items()) {
    EXPECT_GE(wins.AsInt(), 50) << "wins per task: " << spread;  // a fair share is 100
  }
}

}  // namespace
