// reader_bench: a reader process beside the writer (docs/persist.md,
// "Readers and followers"), in one run:
//   1. latency: the writer appends 1,000 events, one every 2 ms; a forked
//      reader process follows the store (LogWatcher + RefreshStore) and
//      notes when each seq becomes visible. Latency = seen - the moment the
//      writer's Append returned (CLOCK_MONOTONIC is system-wide), clamped at
//      0 (a reader may see a record while the writer still waits for its
//      fdatasync), and also seen - the moment Append was called. Target:
//      median < 50 ms; p99 reported.
//   2. the writer's append rate with a reader following against without
//      one, per sync mode: the ratio (target: within noise, >= 0.8x on
//      this two-core machine, where the reader takes a core).
//
//   reader_bench [--quick] [--dir DIR]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/store/bench_args.h"
#include "host/store/log_watch.h"
#include "host/store/store.h"

namespace {

using sx::store::Options;
using sx::store::Status;
using sx::store::Store;
using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "reader_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// The reader process: follows stream "s" until it has seen `last`, writing
// "seq ns" for each seq when it first saw it into out_path (or just
// following, when out_path is empty, until stop_path exists).
[[noreturn]] void RunReader(const std::string& dir, uint64_t last, const std::string& out_path,
                            const std::string& stop_path) {
  Options o;
  o.read_only = true;
  std::unique_ptr<Store> st;
  while (!Store::Open(o, dir, &st).ok()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  sx::store::LogWatcher watcher(dir);
  std::vector<std::pair<uint64_t, int64_t>> seen;
  uint64_t have = 0;
  while (have < last) {
    watcher.Arm(st->ActiveSegmentPath());
    bool changed;
    Check(sx::store::RefreshStore(&st, &changed), "refresh");
    uint64_t now_last = st->LastSeq("s");
    if (now_last > have) {
      int64_t t = NowNs();
      for (uint64_t q = have + 1; q <= now_last; ++q) seen.emplace_back(q, t);
      have = now_last;
      if (have >= last) break;
    }
    if (!stop_path.empty() && std::filesystem::exists(stop_path)) break;
    watcher.Wait(100);
  }
  if (!out_path.empty()) {
    std::ofstream out(out_path);
    for (auto [q, t] : seen) out << q << ' ' << t << '\n';
  }
  std::_Exit(0);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Appends n events as fast as it can; events per second.
double AppendRate(const std::string& dir, sx::store::SyncMode mode, uint64_t n, bool with_reader) {
  std::filesystem::remove_all(dir);
  Options o;
  o.sync = mode;
  std::unique_ptr<Store> w;
  Check(Store::Open(o, dir, &w), "open writer");
  Check(w->Append("s", 1, "first"), "append");
  std::string stop = dir + ".stop";
  std::filesystem::remove(stop);
  pid_t child = -1;
  if (with_reader) {
    child = fork();
    if (child == 0) RunReader(dir, n + 1, "", stop);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the reader is following
  }
  std::string payload(100, 'x');
  auto start = Clock::now();
  for (uint64_t i = 2; i <= n + 1; ++i) Check(w->Append("s", i, payload), "append");
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (with_reader) {
    std::ofstream(stop).put('\n');
    int status;
    waitpid(child, &status, 0);
  }
  return static_cast<double>(n) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  sx::bench::BenchArgs args;
  if (!sx::bench::ParseBenchArgs(argc, argv, "reader_bench", &args)) return 2;
  const uint64_t kEvents = args.quick ? 200 : 1000;
  std::string dir = args.root + "/latency";
  std::string seen_path = args.root + "/seen";

  // --- 1. latency
  {
    Options o;  // sync always: an append is committed when Append returns
    std::unique_ptr<Store> w;
    Check(Store::Open(o, dir, &w), "open writer");
    pid_t child = fork();
    if (child == 0) RunReader(dir, kEvents, seen_path, "");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<int64_t> started(kEvents + 1), committed(kEvents + 1);
    for (uint64_t i = 1; i <= kEvents; ++i) {
      started[i] = NowNs();
      Check(w->Append("s", i, "event " + std::to_string(i)), "append");
      committed[i] = NowNs();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    int status;
    waitpid(child, &status, 0);
    std::ifstream in(seen_path);
    std::vector<double> ms, from_start;
    uint64_t q;
    int64_t t;
    while (in >> q >> t) {
      if (q < 1 || q > kEvents) continue;
      ms.push_back(std::max<double>(0, (t - committed[q]) / 1e6));
      from_start.push_back((t - started[q]) / 1e6);
    }
    if (ms.size() != kEvents) {
      std::fprintf(stderr, "reader_bench: the reader saw %zu of %llu appends\n", ms.size(),
                   static_cast<unsigned long long>(kEvents));
      return 1;
    }
    double median = Percentile(ms, 0.5), p99 = Percentile(ms, 0.99);
    std::printf(
        "reader latency over %llu appends: median %.3f ms, p99 %.3f ms, max %.3f ms "
        "(target median < 50 ms) %s\n",
        static_cast<unsigned long long>(kEvents), median, p99, Percentile(ms, 1.0),
        median < 50 ? "ok" : "MISSED");
    std::printf("  from the call to Append (before its fdatasync): median %.3f ms, p99 %.3f ms\n",
                Percentile(from_start, 0.5), Percentile(from_start, 0.99));
  }

  // --- 2. the writer's rate with and without a reader
  struct Mode {
    const char* name;
    sx::store::SyncMode mode;
    uint64_t n;
  } modes[] = {{"never", sx::store::SyncMode::kNever, args.quick ? 20000u : 200000u},
               {"batch", sx::store::SyncMode::kBatch, args.quick ? 20000u : 200000u},
               {"always", sx::store::SyncMode::kAlways, args.quick ? 300u : 3000u}};
  for (const Mode& m : modes) {
    std::string d = args.root + "/rate_" + m.name;
    double alone = AppendRate(d, m.mode, m.n, false);
    double with = AppendRate(d, m.mode, m.n, true);
    double ratio = with / alone;
    std::printf(
        "append rate, sync %-6s: %.0f/s alone, %.0f/s with a reader following: "
        "ratio %.2fx (target >= 0.80x) %s\n",
        m.name, alone, with, ratio, ratio >= 0.8 ? "ok" : "MISSED");
  }
  std::filesystem::remove_all(args.root);
  return 0;
}
