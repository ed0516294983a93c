// backup_bench — `sx store backup` of a 1 GiB store while a writer appends:
// how much the writer's rate drops while the backup runs, and whether the
// backup verifies (sx store backup opens and verifies what it wrote, and
// exits non-zero when that fails).
//
// One run: fill a store to the size asked (1 KiB events, sync=never), then
// reopen it as a durable writer (sync=always, 16 events a commit) and
// measure its rate for a few seconds alone, then again while `sx store
// backup DIR OUT` (the sx binary beside this one, another process, as a
// user would run it) copies the store. The ratio is the rate during the
// backup over the rate alone; the target is above 0.5.
//
//   backup_bench [--quick] [--dir DIR]   (--quick: 128 MiB)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "bench/store/bench_args.h"
#include "host/store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using sx::store::Options;
using sx::store::Status;
using sx::store::Store;
using sx::store::WriteBatch;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "backup_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

constexpr int kEventsPerCommit = 16;
const std::string kPayload(1024, 'x');

// Appends commits of kEventsPerCommit events to stream "w" until done()
// says stop; the number of events appended.
template <typename Done>
uint64_t Append(Store* st, uint64_t* seq, Done done) {
  uint64_t events = 0;
  while (!done()) {
    WriteBatch b;
    for (int i = 0; i < kEventsPerCommit; ++i) b.Append("w", ++*seq, kPayload);
    Check(st->Commit(b), "append");
    events += kEventsPerCommit;
  }
  return events;
}

}  // namespace

int main(int argc, char** argv) {
  sx::bench::BenchArgs args;
  if (!sx::bench::ParseBenchArgs(argc, argv, "backup_bench", &args)) return 2;
  const uint64_t target_bytes = (args.quick ? 128ull : 1024ull) << 20;
  const double alone_seconds = args.quick ? 2 : 5;
  std::string dir = args.root + "/store", out = args.root + "/backup";
  std::string sx = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "sx";

  // Fill.
  Clock::time_point t0 = Clock::now();
  uint64_t filled = 0;
  {
    Options o;
    o.sync = sx::store::SyncMode::kNever;
    std::unique_ptr<Store> st;
    Check(Store::Open(o, dir, &st), "open to fill");
    uint64_t seq = 0;
    while (filled < target_bytes) {
      WriteBatch b;
      for (int i = 0; i < 1024; ++i) b.Append("fill", ++seq, kPayload);
      Check(st->Commit(b), "fill");
      filled += 1024 * kPayload.size();
    }
    Check(st->Sync(), "sync");
  }
  std::printf("filled %.0f MiB in %.1f s\n", filled / 1048576.0, Seconds(t0));

  Options o;
  o.sync = sx::store::SyncMode::kAlways;
  std::unique_ptr<Store> st;
  Check(Store::Open(o, dir, &st), "open the writer");
  uint64_t seq = 0;

  // Alone.
  Clock::time_point a0 = Clock::now();
  uint64_t alone = Append(st.get(), &seq, [&] { return Seconds(a0) >= alone_seconds; });
  double alone_rate = alone / Seconds(a0);

  // Beside the backup.
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execl(sx.c_str(), sx.c_str(), "store", "backup", dir.c_str(), out.c_str(), (char*)nullptr);
    _exit(127);
  }
  int status = 0;
  bool exited = false;
  Clock::time_point b0 = Clock::now();
  uint64_t during = Append(st.get(), &seq, [&] {
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) exited = true;
    return exited;
  });
  double backup_seconds = Seconds(b0);
  double during_rate = during / backup_seconds;
  bool verified = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  st.reset();

  std::printf("writer alone:        %10.0f events/s (%d a commit, sync=always)\n", alone_rate,
              kEventsPerCommit);
  std::printf("writer beside backup:%10.0f events/s, backup took %.1f s\n", during_rate,
              backup_seconds);
  std::printf("ratio during/alone:  %10.2f (target > 0.50)\n", during_rate / alone_rate);
  std::printf("backup verified:     %10s\n", verified ? "yes" : "NO");
  std::filesystem::remove_all(args.root);
  return verified ? 0 : 1;
}
