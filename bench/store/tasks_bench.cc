// tasks_bench: what the task scheduler buys, in one run on the real disk.
//
//   tasks_bench [--quick] [--dir DIR]
//
// 1. One SX task appending with sync=always (one fsync per append) against
//    64 tasks appending together: each scheduler round's 64 writes share one
//    group commit. Target: 64 tasks >= 10x one task.
// 2. SQLite in WAL mode with synchronous=FULL, one event per transaction,
//    the usual durable baseline. Target: 64 tasks >= 10x SQLite.
// 3. A task switch: tasks that only `yield`, so each switch is a suspension
//    and a resumption through the scheduler with no IO. Target: < 1 us.
//
// Every figure goes through the public API and the `sx` host's persist
// service, as a script would.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench/store/bench_args.h"
#include "bench/store/sqlite_baseline.h"
#include "host/cli/setup.h"
#include "sx/sx.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kEventBytes = 200;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "tasks_bench: %s\n", what.c_str());
  std::exit(1);
}

sx::Outcome RunOrDie(sx::Interpreter& in, const std::string& src) {
  sx::Outcome o = in.Run(in.Eval(src, "<bench>"));
  if (o.status != sx::Status::kDone) Die(o.error_text);
  return o;
}

// `tasks` tasks each append `per_task` events to a stream of its own.
double AppendRate(const std::string& dir, int tasks, int per_task) {
  sx::host::HostOptions opts;
  opts.data_dir = dir;
  opts.sync = "always";
  sx::host::Host host(opts);
  sx::Interpreter& in = host.interp();
  RunOrDie(in, "(define payload \"" + std::string(kEventBytes, 'e') + "\")\n" + R"(
    (define (writer name n)
      (fn () (for-each (fn (i) (perform {:op "persist/append"
                                         :args (list name {:seq (+ i 1) :p payload})}))
                       (range n))))
    (perform {:op "persist/streams" :args ()}))");  // opens the store outside the timing
  auto start = Clock::now();
  RunOrDie(in, "(for-each await (map (fn (t) (spawn (writer (str \"s\" t) " +
                   std::to_string(per_task) + "))) (range " + std::to_string(tasks) + ")))");
  double secs = Seconds(start);
  sx::Outcome total = RunOrDie(in, "(get (perform {:op \"persist/stats\" :args ()}) :appends)");
  if (total.value.AsInt() != static_cast<int64_t>(tasks) * per_task) Die("appends went missing");
  return static_cast<double>(tasks) * per_task / secs;
}

double SqliteRate(const std::string& path, double seconds) {
  std::string error;
  double rate = sx::bench::SqliteWalFullRate(path, kEventBytes, seconds, &error);
  if (rate < 0) Die(error);
  return rate;
}

// Nanoseconds per task switch: `tasks` tasks each yield `n` times.
double SwitchNs(int tasks, int n) {
  sx::Interpreter in;
  RunOrDie(in, "(define (spin n) (fn () (for-each (fn (i) (yield)) (range n))))");
  std::string src = "(for-each await (map (fn (t) (spawn (spin " + std::to_string(n) +
                    "))) (range " + std::to_string(tasks) + ")))";
  RunOrDie(in, src);  // warm up
  auto start = Clock::now();
  RunOrDie(in, src);
  double secs = Seconds(start);
  // Each yield is one suspension and one resumption; the for-each step
  // around it (a closure call) is counted in, as a real task would pay it.
  return secs * 1e9 / (static_cast<double>(tasks) * n);
}

std::string Verdict(bool ok) { return ok ? "OK" : "MISSED"; }

}  // namespace

int main(int argc, char** argv) {
  sx::bench::BenchArgs args;
  if (!sx::bench::ParseBenchArgs(argc, argv, "tasks_bench", &args)) return 2;
  namespace fs = std::filesystem;
  const bool quick = args.quick;
  const std::string root = args.root;
  const int kOne = quick ? 200 : 1000;
  const int kPerTask = quick ? 40 : 200;

  std::printf("tasks_bench%s: %zu-byte events, sync=always, directory %s\n",
              quick ? " --quick" : "", kEventBytes, root.c_str());
  double one = AppendRate(root + "/one", 1, kOne);
  double many = AppendRate(root + "/many", 64, kPerTask);
  double sqlite = SqliteRate(root + "/sqlite.db", quick ? 1.0 : 3.0);
  double sw = SwitchNs(64, quick ? 2000 : 20000);
  std::printf("  1 task appending:                 %10.0f appends/s\n", one);
  std::printf("  64 tasks appending:               %10.0f appends/s\n", many);
  std::printf("  SQLite WAL synchronous=FULL:      %10.0f inserts/s\n", sqlite);
  std::printf("  64 tasks vs 1 task:      %6.1fx (target >= 10x) %s\n", many / one,
              Verdict(many >= 10 * one).c_str());
  std::printf("  64 tasks vs SQLite FULL: %6.1fx (target >= 10x) %s\n", many / sqlite,
              Verdict(many >= 10 * sqlite).c_str());
  std::printf("  task switch (yield through the scheduler): %.0f ns (target < 1000 ns) %s\n", sw,
              Verdict(sw < 1000).c_str());
  fs::remove_all(root);
  return 0;
}
