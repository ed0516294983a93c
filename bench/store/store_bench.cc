// store_bench: measures the store against its peers in one run, on the real
// disk, and prints each figure with the ratio and the target it must meet.
//
//   store_bench [--quick] [--dir DIR]
//
// --quick shrinks the big sizes (1M events -> 100k) and the timed loops.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/store/bench_args.h"
#include "bench/store/sqlite_baseline.h"
#include "host/store/store.h"

namespace {

using sx::store::Event;
using sx::store::Options;
using sx::store::Status;
using sx::store::Store;
using sx::store::SyncMode;
using Clock = std::chrono::steady_clock;

constexpr size_t kEventBytes = 200;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Die(const std::string& what) {
  std::fprintf(stderr, "store_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

long RssKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return 0;
}

// Appends with write + fdatasync until the time is up; returns ops/s.
double RawWriteLoop(const std::string& path, bool preallocated, double seconds) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Die("open " + path);
  const off_t kPrealloc = 64 << 20;
  if (preallocated) {
    std::string zeros(1 << 20, '\0');
    for (off_t off = 0; off < kPrealloc; off += static_cast<off_t>(zeros.size())) {
      if (::pwrite(fd, zeros.data(), zeros.size(), off) < 0) Die("prealloc");
    }
    ::fsync(fd);
  }
  std::string rec(kEventBytes + 17, 'r');
  off_t off = 0;
  uint64_t n = 0;
  auto start = Clock::now();
  while (Seconds(start) < seconds) {
    if (::pwrite(fd, rec.data(), rec.size(), off) != static_cast<ssize_t>(rec.size())) Die("write");
    if (::fdatasync(fd) != 0) Die("fdatasync");
    off += static_cast<off_t>(rec.size());
    ++n;
    if (preallocated && off + 4096 > kPrealloc) off = 0;
  }
  double rate = static_cast<double>(n) / Seconds(start);
  ::close(fd);
  ::unlink(path.c_str());
  return rate;
}

double StoreAppendLoop(const std::string& dir, SyncMode mode, double seconds, uint64_t max_ops,
                       std::unique_ptr<Store>* keep) {
  Options o;
  o.sync = mode;
  std::unique_ptr<Store> store;
  Check(Store::Open(o, dir, &store), "open");
  std::string payload(kEventBytes, 'e');
  uint64_t seq = store->LastSeq("s");
  uint64_t n = 0;
  auto start = Clock::now();
  while (n < max_ops && ((n & 255) != 0 || Seconds(start) < seconds)) {
    Check(store->Append("s", ++seq, payload), "append");
    ++n;
  }
  double rate = static_cast<double>(n) / Seconds(start);
  if (keep) *keep = std::move(store);
  return rate;
}

double SqliteLoop(const std::string& path, double seconds) {
  std::string error;
  double rate = sx::bench::SqliteWalFullRate(path, kEventBytes, seconds, &error);
  if (rate < 0) Die(error);
  return rate;
}

double ReadLast100Micros(Store* store, const std::string& stream) {
  uint64_t hwm = store->LastSeq(stream);
  std::vector<Event> out;
  const int kRounds = 2000;
  auto start = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    Check(store->Read(stream, hwm - 99, 100, &out), "read");
    if (out.size() != 100) Die("read returned " + std::to_string(out.size()));
  }
  return Seconds(start) * 1e6 / kRounds;
}

// Reads limit events from random positions of a stream of seqs 1..hwm;
// returns microseconds per read.
double ReadRandomMicros(Store* store, const std::string& stream, size_t limit) {
  uint64_t hwm = store->LastSeq(stream);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> pick(1, hwm - limit + 1);
  std::vector<Event> out;
  const int kRounds = 20000;
  auto start = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    uint64_t from = pick(rng);
    Check(store->Read(stream, from, limit, &out), "read");
    if (out.size() != limit || out[0].seq != from) Die("random read returned the wrong events");
  }
  return Seconds(start) * 1e6 / kRounds;
}

void Line(const char* what, double value, const char* unit, const std::string& note) {
  std::printf("%-46s %14.1f %-6s %s\n", what, value, unit, note.c_str());
}

std::string Ratio(double a, double b, double target, bool higher_is_better = true) {
  char buf[96];
  double r = a / b;
  bool ok = higher_is_better ? r >= target : r <= target;
  std::snprintf(buf, sizeof(buf), "ratio %.2fx (target %s %.2fx) %s", r,
                higher_is_better ? ">=" : "<=", target, ok ? "OK" : "MISSED");
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  sx::bench::BenchArgs args;
  if (!sx::bench::ParseBenchArgs(argc, argv, "store_bench", &args)) return 2;
  namespace fs = std::filesystem;
  const bool quick = args.quick;
  const std::string root = args.root;
  const double kTimed = quick ? 1.0 : 3.0;
  const uint64_t kBig = quick ? 100000 : 1000000;
  const uint64_t kSmall = 10000;

  std::printf("store_bench%s: %zu-byte events, directory %s\n", quick ? " --quick" : "",
              kEventBytes, root.c_str());
  double raw_grow = RawWriteLoop(root + "/raw-grow", false, kTimed);
  double raw_pre = RawWriteLoop(root + "/raw-prealloc", true, kTimed);
  double always = StoreAppendLoop(root + "/always", SyncMode::kAlways, kTimed, UINT64_MAX, nullptr);
  double sqlite = SqliteLoop(root + "/sqlite.db", kTimed);
  Line("raw write+fdatasync, growing file", raw_grow, "ops/s", "");
  Line("raw write+fdatasync, preallocated file", raw_pre, "ops/s", "");
  Line("SQLite WAL synchronous=FULL, 1 event/txn", sqlite, "ops/s", "");
  Line("store sync=always, one writer", always, "ops/s", "");
  std::printf("  vs SQLite FULL:          %s\n", Ratio(always, sqlite, 1.2).c_str());
  std::printf("  vs raw preallocated:     %s\n", Ratio(always, raw_pre, 0.9).c_str());
  std::printf("  vs raw growing file:     %s\n", Ratio(always, raw_grow, 1.0).c_str());

  std::unique_ptr<Store> big;
  double never = StoreAppendLoop(root + "/big", SyncMode::kNever, 1e9, kBig, &big);
  Line("store sync=never, one writer", never, "ops/s",
       never >= 400000 ? "(target >= 400000) OK" : "(target >= 400000) MISSED");
  std::string payload(kEventBytes, 'm');
  for (uint64_t i = 1; i <= kSmall; ++i) Check(big->Append("small", i, payload), "append");
  double read_big = ReadLast100Micros(big.get(), "s");
  double read_small = ReadLast100Micros(big.get(), "small");
  Line(("read last 100 of a " + std::to_string(kBig) + "-event stream").c_str(), read_big, "us",
       read_big < 1000 ? "(target < 1000) OK" : "(target < 1000) MISSED");
  Line("read last 100 of a 10000-event stream", read_small, "us",
       Ratio(read_big, read_small, 1.5, false) + " (big/small)");
  Check(big->Sync(), "sync");
  big.reset();

  size_t heap_before = mallinfo2().uordblks;
  auto start = Clock::now();
  Options o;
  Check(Store::Open(o, root + "/big", &big), "reopen");
  double open_s = Seconds(start);
  size_t heap_after = mallinfo2().uordblks;
  uint64_t events = big->GetStats().events_live;
  std::string verdict = events >= 1000000
                            ? (open_s < 1.0 ? "(target < 1000 ms) OK" : "(target < 1000 ms) MISSED")
                            : "(the 1M target is checked without --quick)";
  Line(("open a " + std::to_string(events) + "-event store").c_str(), open_s * 1000, "ms", verdict);
  double per_event = static_cast<double>(heap_after - heap_before) / static_cast<double>(events);
  Line("heap held by the open store", static_cast<double>(heap_after - heap_before) / 1048576.0,
       "MiB",
       "(" + std::to_string(static_cast<int>(per_event)) + " bytes/event => 10M events ~" +
           std::to_string(static_cast<int>(per_event * 10)) + " MB; target < 500) " +
           (per_event < 50 ? "OK" : "MISSED"));
  // Reads at random positions after a restart: the index finds the run
  // holding the first seq and reads its stretch of the log.
  double random_1 = ReadRandomMicros(big.get(), "s", 1);
  double random_100 = ReadRandomMicros(big.get(), "s", 100);
  Line("read 1 event at a random seq (reopened)", random_1, "us",
       random_1 < 100 ? "(target < 100) OK" : "(target < 100) MISSED");
  Line("read 100 events from a random seq (reopened)", random_100, "us",
       random_100 < 1000 ? "(target < 1000) OK" : "(target < 1000) MISSED");
  Line("peak RSS of this process", static_cast<double>(RssKb("VmHWM:")) / 1024, "MiB", "");
  big.reset();
  fs::remove_all(root);
  return 0;
}
