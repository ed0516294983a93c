// sqlite_baseline.h — the SQLite figure the store benchmarks compare with:
// WAL mode, synchronous=FULL, one event per transaction, primary key
// (stream, seq), the same event size. Shared so both benchmarks measure the
// same baseline the same way.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace sx::bench {

// Inserts per second over about `seconds`; a negative number, with *error
// set, when SQLite fails.
inline double SqliteWalFullRate(const std::string& path, size_t event_bytes, double seconds,
                                std::string* error) {
  using Clock = std::chrono::steady_clock;
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    *error = "sqlite open failed";
    return -1;
  }
  const char* setup[] = {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                         "CREATE TABLE events (stream TEXT NOT NULL, seq INTEGER NOT NULL, "
                         "payload BLOB, PRIMARY KEY (stream, seq))"};
  for (const char* sql : setup) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      *error = std::string("sqlite: ") + (err ? err : "?");
      sqlite3_free(err);
      sqlite3_close(db);
      return -1;
    }
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO events VALUES (?, ?, ?)", -1, &st, nullptr);
  std::string payload(event_bytes, 'e');
  uint64_t n = 0;
  auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  double rate = -1;
  while (elapsed() < seconds) {
    sqlite3_bind_text(st, 1, "s", 1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(++n));
    sqlite3_bind_blob(st, 3, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
      *error = "sqlite insert failed";
      n = 0;
      break;
    }
    sqlite3_reset(st);
  }
  if (n > 0) rate = static_cast<double>(n) / elapsed();
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

}  // namespace sx::bench
