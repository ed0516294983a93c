// export_bench — `sx store export` and `import` of 1M events against the
// sqlite3 command-line shell's `.dump` and `.read` of the same events in
// one table, in the same run.
//
// The events are SX event dicts ({:stream :seq :type :at :data {...}}) in
// 10 streams. The store holds them in the binary value encoding; the SQLite
// table (stream TEXT, seq INTEGER, payload TEXT, primary key (stream, seq))
// holds each one's printed form. export and import run in this process
// (ExportStore into a file, ImportStore from it into a fresh store); the
// baseline runs the sqlite3 shell: `sqlite3 DB .dump > FILE` and
// `sqlite3 NEW < FILE` (what `.read FILE` does). A ratio above 1 means sx
// is faster.
//
//   export_bench [--quick] [--dir DIR]   (--quick: 100k events)
#include <sqlite3.h>
#include <sys/wait.h>

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
#include "host/tools/export.h"
#include "sx/sx.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
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
  // sx export.
  auto t = Clock::now();
  {
    std::ofstream out(export_file, std::ios::binary);
    sx::tools::ExportOptions options;
    if (sx::tools::ExportStore(store_dir, options, out, std::cerr) != 0) return 1;
  }
  double sx_export = Seconds(t);
  // sqlite3 .dump.
  t = Clock::now();
  if (Shell("sqlite3 '" + db_path + "' .dump > '" + dump_file + "'") != 0) return 1;
  double sqlite_dump = Seconds(t);
  // sx import into a fresh store.
  t = Clock::now();
  {
    std::ifstream input(export_file, std::ios::binary);
    sx::tools::ImportReport report;
    if (sx::tools::ImportStore(args.root + "/imported", input, false, &report, std::cerr) != 0) {
      return 1;
    }
    if (report.events != kEvents) {
      std::fprintf(stderr, "export_bench: imported %llu events, not %llu\n",
                   static_cast<unsigned long long>(report.events),
                   static_cast<unsigned long long>(kEvents));
      return 1;
    }
  }
  double sx_import = Seconds(t);
  // sqlite3 .read of the dump into a fresh database.
  t = Clock::now();
  if (Shell("sqlite3 '" + args.root + "/read.db' < '" + dump_file + "'") != 0) return 1;
  double sqlite_read = Seconds(t);

  uint64_t export_bytes = std::filesystem::file_size(export_file);
  uint64_t dump_bytes = std::filesystem::file_size(dump_file);
  std::printf("export_bench: %llu events in %d streams\n", static_cast<unsigned long long>(kEvents),
              kStreams);
  std::printf("  sx store export     %7.3f s  %8.0f events/s  (%llu bytes)\n", sx_export,
              kEvents / sx_export, static_cast<unsigned long long>(export_bytes));
  std::printf("  sqlite3 .dump       %7.3f s  %8.0f events/s  (%llu bytes)\n", sqlite_dump,
              kEvents / sqlite_dump, static_cast<unsigned long long>(dump_bytes));
  std::printf("  sx store import     %7.3f s  %8.0f events/s\n", sx_import, kEvents / sx_import);
  std::printf("  sqlite3 .read       %7.3f s  %8.0f events/s\n", sqlite_read,
              kEvents / sqlite_read);
  std::printf("  ratio export/.dump  %.2fx   (target >= 1: sx at least as fast)\n",
              sqlite_dump / sx_export);
  std::printf("  ratio import/.read  %.2fx   (target >= 1)\n", sqlite_read / sx_import);
  std::filesystem::remove_all(args.root);
  return 0;
}
