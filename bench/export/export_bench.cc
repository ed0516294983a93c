// export_bench — `sx store export` and `import` of 1M events against the
// sqlite3 command-line shell's `.dump` and `.read` of the same events in
// one table, in the same run.
//
// The events are SX event dicts ({:stream :seq :type :at :data {...}}) in
// 10 streams. The store holds them in the binary value encoding; the SQLite
// table (stream TEXT, seq INTEGER, payload TEXT, primary key (stream, seq))
// holds each one's printed form. export and import run
// as commands too: `sx store export DIR > FILE` and `sx store import NEW
// FILE` (the sx binary beside this one) against the sqlite3 shell's
// `sqlite3 DB .dump > FILE` and `sqlite3 NEW < FILE` (what `.read FILE`
// does); two rounds, order swapped, the better time of each kept. A ratio
// above 1 means sx is faster.
//
//   export_bench [--quick] [--dir DIR]   (--quick: 100k events)
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "bench/store/bench_args.h"
#include "host/ops/value_codec.h"
#include "host/store/store.h"
#include "sx/sx.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// CPU seconds (user + system) of this process, or of its waited-for
// children: on a busy machine the fairer figure, printed beside wall time.
double Cpu(int who) {
  rusage u;
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

bool Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s\n", err ? err : "?");
    sqlite3_free(err);
    return false;
  }
  return true;
}

int Shell(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  sx::bench::BenchArgs args;
  if (!sx::bench::ParseBenchArgs(argc, argv, "export_bench", &args)) return 2;
  if (Shell("sqlite3 -version > /dev/null") != 0) {
    std::fprintf(stderr,
                 "export_bench: the sqlite3 shell is missing (scripts/setup installs it)\n");
    return 1;
  }
  const uint64_t kEvents = args.quick ? 100000 : 1000000;
  const int kStreams = 10;
  std::string store_dir = args.root + "/store", db_path = args.root + "/events.db";

  // The same events into the store and into SQLite.
  sx::Interpreter in;
  {
    sx::store::Options o;
    o.sync = sx::store::SyncMode::kNever;
    std::unique_ptr<sx::store::Store> st;
    sx::store::Status s = sx::store::Store::Open(o, store_dir, &st);
    sqlite3* db = nullptr;
    if (!s.ok() || sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
      std::fprintf(stderr, "export_bench: cannot open the stores: %s\n", s.ToString().c_str());
      return 1;
    }
    Exec(db,
         "CREATE TABLE events (stream TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT, "
         "PRIMARY KEY (stream, seq))");
    Exec(db, "BEGIN");
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO events VALUES (?, ?, ?)", -1, &ins, nullptr);
    sx::store::WriteBatch batch;
    std::string bytes, text, error;
    for (uint64_t i = 0; i < kEvents; ++i) {
      std::string stream = "stream-" + std::to_string(i % kStreams);
      uint64_t seq = i / kStreams + 1;
      sx::Outcome ev =
          in.Eval("{:stream \"" + stream + "\" :seq " + std::to_string(seq) +
                  " :type \"placed\" :at " + std::to_string(1700000000 + i) + " :data {:id " +
                  std::to_string(i) + " :sum 12.5 :items (list \"apple\" \"pear\") :paid false}}");
      if (ev.status != sx::Status::kDone) {
        std::fprintf(stderr, "export_bench: %s\n", ev.error_text.c_str());
        return 1;
      }
      bytes.clear();
      text.clear();  // Serialize appends
      if (!sx::host::EncodeValue(in, ev.value, &bytes, &error) ||
          !in.Serialize(ev.value, &text, &error)) {
        std::fprintf(stderr, "export_bench: %s\n", error.c_str());
        return 1;
      }
      batch.Append(stream, seq, bytes);
      if (batch.size() == 4096) {
        if (!st->Commit(batch).ok()) return 1;
        batch.Clear();
      }
      sqlite3_bind_text(ins, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins, 2, static_cast<sqlite3_int64>(seq));
      sqlite3_bind_text(ins, 3, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(ins) != SQLITE_DONE) return 1;
      sqlite3_reset(ins);
    }
    if (!batch.empty() && !st->Commit(batch).ok()) return 1;
    if (!st->Sync().ok()) return 1;
    sqlite3_finalize(ins);
    Exec(db, "COMMIT");
    sqlite3_close(db);
  }

  std::string export_file = args.root + "/export.jsonl", dump_file = args.root + "/dump.sql";
  // Both sides run as commands, as people run them: `sx store export` and
  // `sx store import` (the sx binary beside this one) against the sqlite3
  // shell. Each pair runs in turn, the order swapped in the second round,
  // and the better time of each is kept.
  std::string sx = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "sx";
  double sx_export = 1e9, sx_export_cpu = 1e9, sqlite_dump = 1e9, sqlite_dump_cpu = 1e9;
  double sx_import = 1e9, sx_import_cpu = 1e9, sqlite_read = 1e9, sqlite_read_cpu = 1e9;
  auto timed = [&](const std::string& cmd, double* wall, double* cpu) {
    auto t = Clock::now();
    double c = Cpu(RUSAGE_CHILDREN);
    if (Shell(cmd) != 0) {
      std::fprintf(stderr, "export_bench: failed: %s\n", cmd.c_str());
      std::exit(1);
    }
    *wall = std::min(*wall, Seconds(t));
    *cpu = std::min(*cpu, Cpu(RUSAGE_CHILDREN) - c);
  };
  for (int round = 0; round < 2; ++round) {
    std::filesystem::remove_all(args.root + "/imported");
    std::filesystem::remove(args.root + "/read.db");
    std::string ex = "'" + sx + "' store export '" + store_dir + "' > '" + export_file + "'";
    std::string dump = "sqlite3 '" + db_path + "' .dump > '" + dump_file + "'";
    std::string im =
        "'" + sx + "' store import '" + args.root + "/imported' '" + export_file + "' > /dev/null";
    std::string read = "sqlite3 '" + args.root + "/read.db' < '" + dump_file + "'";
    if (round == 0) {
      timed(ex, &sx_export, &sx_export_cpu);
      timed(dump, &sqlite_dump, &sqlite_dump_cpu);
      timed(im, &sx_import, &sx_import_cpu);
      timed(read, &sqlite_read, &sqlite_read_cpu);
    } else {
      timed(dump, &sqlite_dump, &sqlite_dump_cpu);
      timed(ex, &sx_export, &sx_export_cpu);
      timed(read, &sqlite_read, &sqlite_read_cpu);
      timed(im, &sx_import, &sx_import_cpu);
    }
  }
  {
    // The import holds every event.
    sx::store::Options o;
    o.read_only = true;
    std::unique_ptr<sx::store::Store> st;
    if (!sx::store::Store::Open(o, args.root + "/imported", &st).ok() ||
        st->GetStats().events_live != kEvents) {
      std::fprintf(stderr, "export_bench: the import does not hold every event\n");
      return 1;
    }
  }

  uint64_t export_bytes = std::filesystem::file_size(export_file);
  uint64_t dump_bytes = std::filesystem::file_size(dump_file);
  std::printf("export_bench: %llu events in %d streams\n", static_cast<unsigned long long>(kEvents),
              kStreams);
  auto row = [&](const char* what, double wall, double cpu) {
    std::printf("  %-18s %7.3f s wall %7.3f s cpu  %9.0f events/s\n", what, wall, cpu,
                static_cast<double>(kEvents) / wall);
  };
  row("sx store export", sx_export, sx_export_cpu);
  row("sqlite3 .dump", sqlite_dump, sqlite_dump_cpu);
  row("sx store import", sx_import, sx_import_cpu);
  row("sqlite3 .read", sqlite_read, sqlite_read_cpu);
  std::printf("  output: export %llu bytes, dump %llu bytes\n",
              static_cast<unsigned long long>(export_bytes),
              static_cast<unsigned long long>(dump_bytes));
  std::printf("  ratio export vs .dump: %.2fx wall, %.2fx cpu (target >= 1: sx at least as fast)\n",
              sqlite_dump / sx_export, sqlite_dump_cpu / sx_export_cpu);
  std::printf("  ratio import vs .read: %.2fx wall, %.2fx cpu (target >= 1)\n",
              sqlite_read / sx_import, sqlite_read_cpu / sx_import_cpu);
  std::filesystem::remove_all(args.root);
  return 0;
}
