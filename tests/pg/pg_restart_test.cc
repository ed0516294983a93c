// An immediate server stop (no shutdown checkpoint, as in a crash) and a
// restart while a writer appends: nothing acknowledged is lost, seqs keep
// rising, the writer goes on by itself. Runs alone (RUN_SERIAL): it stops
// the server every PostgreSQL test uses.
#include <atomic>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/pg/pg_fixture.h"

namespace sx::pg {
namespace {

using backend::Event;

using PgRestart = PgTest;

TEST_F(PgRestart, AnImmediateStopAndRestartLoseNothingAcknowledged) {
  const char* dir = std::getenv("SX_PG_DIR");
  ASSERT_TRUE(dir != nullptr && *dir != '\0')
      << "SX_PG_DIR is unset: this test restarts the server scripts/pg_server.sh started";
  // The writer appends until it has had 100 more appends acknowledged after
  // the restart returned (a fixed count could be done before the stop).
  constexpr uint64_t kAfter = 100;
  std::atomic<uint64_t> acked{0}, last{std::numeric_limits<uint64_t>::max()};
  std::vector<uint64_t> failed;  // not acknowledged: may or may not be stored
  std::string last_failure;
  std::thread writer([&] {
    std::unique_ptr<backend::Backend> db;
    Open(&db);
    uint64_t seq = 1;
    while (seq <= last.load()) {
      Status s = Append(db.get(), "log", seq, "e" + std::to_string(seq));
      if (s.ok()) {
        acked = seq++;
      } else if (s.IsConflict()) {
        ADD_FAILURE() << "a retried append reported a false conflict: " << s.ToString();
        return;
      } else {
        failed.push_back(seq);  // server down past retry_ms: try again
        last_failure = s.ToString();
      }
    }
  });
  while (acked.load() < kAfter) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string cmd = std::string(SX_SOURCE_DIR) + "/scripts/pg_server.sh restart " + dir;
  int rc = std::system(cmd.c_str());
  uint64_t total = acked.load() + kAfter;
  last = total;
  writer.join();
  ASSERT_EQ(rc, 0) << cmd;
  EXPECT_TRUE(failed.empty()) << failed.size()
                              << " appends failed past the retry time; the last: " << last_failure;
  ASSERT_TRUE(admin_.Reconnect().ok());
  std::unique_ptr<backend::Backend> db;
  Open(&db);
  std::vector<Event> events;
  ASSERT_TRUE(db->Read("log", 1, total + 10, &events).ok());
  ASSERT_EQ(events.size(), total);
  for (uint64_t i = 0; i < total; ++i) {
    EXPECT_EQ(events[i].seq, i + 1);
    EXPECT_EQ(events[i].payload, "e" + std::to_string(i + 1));
  }
  EXPECT_EQ(Last(db.get(), "log"), total);
}

// Reads wait out a restart as writes do: a write op reads first (its
// stream's last seq), and must not fail where a plain append goes on.
TEST_F(PgRestart, ReadsGoOnThroughAnImmediateStopAndRestart) {
  const char* dir = std::getenv("SX_PG_DIR");
  ASSERT_TRUE(dir != nullptr && *dir != '\0')
      << "SX_PG_DIR is unset: this test restarts the server scripts/pg_server.sh started";
  ASSERT_TRUE(Append(db_.get(), "log", 1, "one").ok());
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::string failure;
  std::thread reader([&] {
    std::unique_ptr<backend::Backend> db;
    Open(&db);
    while (!done.load()) {
      uint64_t last = 0;
      std::vector<Event> events;
      Status s = db->LastSeq("log", &last);
      if (s.ok()) s = db->Read("log", 1, 10, &events);
      if (!s.ok() || last != 1 || events.size() != 1) {
        failure = s.ok() ? "a read gave last seq " + std::to_string(last) : s.ToString();
        return;
      }
      ++reads;
    }
  });
  while (reads.load() < 10) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string cmd = std::string(SX_SOURCE_DIR) + "/scripts/pg_server.sh restart " + dir;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  uint64_t at_restart = reads.load();
  while (reads.load() < at_restart + 10 && failure.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  done = true;
  reader.join();
  EXPECT_EQ(failure, "");
  ASSERT_TRUE(admin_.Reconnect().ok());
}

}  // namespace
}  // namespace sx::pg
