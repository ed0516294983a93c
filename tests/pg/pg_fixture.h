// pg_fixture.h — what the PostgreSQL tests share: the server's URL from
// SX_PG_URL (scripts/pg_server.sh starts one; scripts/test and CI do that),
// a schema of the test's own, dropped afterwards, and small helpers.
//
// A test FAILS when SX_PG_URL is unset: the PostgreSQL suites never skip.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "host/pg/pg_backend.h"
#include "host/pg/pg_conn.h"

namespace sx::pg {

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("SX_PG_URL");
    ASSERT_TRUE(url != nullptr && *url != '\0')
        << "SX_PG_URL is unset: the PostgreSQL tests need a server. Start one with\n"
           "  eval \"$(scripts/pg_server.sh start)\"\n(scripts/test and .ci/run do this)";
    base_url_ = url;
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    schema_ = "t";
    for (char c : std::string(info->name())) {
      schema_ +=
          static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
    }
    schema_ = schema_.substr(0, 40) + "_" + std::to_string(getpid());
    // Sessions are named after the schema, so a test can end its own ones.
    url_ = base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") +
           "application_name=" + schema_;
    ASSERT_TRUE(admin_.Connect(base_url_).ok());
    DropSchema();
    Open(&db_);
  }

  void TearDown() override {
    db_.reset();
    if (!admin_.broken()) DropSchema();
  }

  void DropSchema() {
    ASSERT_TRUE(admin_.Exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE").ok());
  }

  PgOptions Options() const {
    PgOptions o;
    o.url = url_;
    o.schema = schema_;
    return o;
  }

  void Open(std::unique_ptr<backend::Backend>* out, PgOptions o = {}) {
    if (o.url.empty()) o = Options();
    Status s = OpenPostgres(o, out);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Ends every session of this test but the admin one, and waits until they
  // are gone.
  void TerminateSessions() {
    ASSERT_TRUE(admin_
                    .Exec("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                          "WHERE application_name = '" +
                          schema_ + "' AND pid <> pg_backend_pid()")
                    .ok());
  }

  std::string base_url_, url_, schema_;
  Conn admin_;
  std::unique_ptr<backend::Backend> db_;
};

inline Status Append(backend::Backend* db, const std::string& stream, uint64_t seq,
                     const std::string& payload) {
  store::WriteBatch b;
  b.Append(stream, seq, payload);
  return db->Commit(b);
}

// One batch: appends seqs first..last to stream (payloads "p<seq>"), then
// truncates it through `through`.
inline Status AppendRunAndTruncate(backend::Backend* db, const std::string& stream, uint64_t first,
                                   uint64_t last, uint64_t through) {
  store::WriteBatch b;
  for (uint64_t seq = first; seq <= last; ++seq) b.Append(stream, seq, "p" + std::to_string(seq));
  b.TruncateThrough(stream, through);
  return db->Commit(b);
}

// The engine's counter `name`; a test failure when it has none.
inline uint64_t Stat(backend::Backend* db, const std::string& name) {
  backend::Stats stats;
  EXPECT_TRUE(db->GetStats(&stats).ok());
  for (const auto& [n, v] : stats) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no stat " << name;
  return 0;
}

// The seqs of a stream's stored events, from `from`.
inline std::vector<uint64_t> Seqs(backend::Backend* db, const std::string& stream,
                                  uint64_t from = 1, size_t limit = 1000) {
  std::vector<backend::Event> events;
  EXPECT_TRUE(db->Read(stream, from, limit, &events).ok());
  std::vector<uint64_t> seqs;
  for (const backend::Event& e : events) seqs.push_back(e.seq);
  return seqs;
}

// The one number a counting query of the admin session answers.
inline int64_t Count(Conn* admin, const std::string& sql) {
  static int calls = 0;  // a statement is prepared once per name
  std::string name = "count" + std::to_string(++calls);
  Rows rows;
  Status s = admin->Run(name.c_str(), sql.c_str(), {}, &rows);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return s.ok() && rows.size() == 1 ? rows.Int8(0, 0) : -1;
}

inline uint64_t Last(backend::Backend* db, const std::string& stream) {
  uint64_t seq = 0;
  EXPECT_TRUE(db->LastSeq(stream, &seq).ok());
  return seq;
}

}  // namespace sx::pg
