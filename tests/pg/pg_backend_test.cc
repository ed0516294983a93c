// Every Backend method of the PostgreSQL backend against a real server, with
// the answers the embedded store gives.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "host/store/cid.h"
#include "tests/pg/pg_fixture.h"

namespace sx::pg {
namespace {

using backend::Event;
using store::WriteBatch;

// The payloads a follower reads from the start, in its order, once it
// reads `want` of them (the fence waits for every older transaction of the
// server, and other tests run beside this one) or after 30 s.
std::vector<std::string> FollowedPayloads(backend::Backend* db, size_t want) {
  std::vector<CommittedEvent> seen;
  uint64_t pos = 0;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    EXPECT_TRUE(ReadCommitted(db, 0, 100, &seen, &pos).ok());
    if (seen.size() >= want || std::chrono::steady_clock::now() >= give_up) break;
    EXPECT_TRUE(db->WaitForCommit(pos, 1000, &pos).ok());
  }
  std::vector<std::string> payloads;
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_TRUE(i == 0 || seen[i - 1].position <= seen[i].position);
    payloads.push_back(seen[i].payload);
  }
  return payloads;
}

using PgBackend = PgTest;

TEST_F(PgBackend, OpenCreatesTheSchemaOnceAndReopens) {
  EXPECT_STREQ(db_->kind(), "postgres");
  std::unique_ptr<backend::Backend> again;
  Open(&again);
  Rows rows;
  ASSERT_TRUE(
      admin_
          .Run("versions",
               ("SELECT count(*)::int8, max(version)::int8 FROM " + schema_ + ".schema_version")
                   .c_str(),
               {}, &rows)
          .ok());
  EXPECT_EQ(rows.Int8(0, 0), LatestSchemaVersion());  // one row per migration, applied once
  EXPECT_EQ(rows.Int8(0, 1), LatestSchemaVersion());
  ASSERT_TRUE(Append(again.get(), "s", 1, "x").ok());
  EXPECT_EQ(Last(db_.get(), "s"), 1u);
}

TEST_F(PgBackend, ASchemaAtVersion1IsMigratedOnOpenAndKeepsItsData) {
  ASSERT_TRUE(Append(db_.get(), "s", 1, "old").ok());
  db_.reset();
  // Back to version 1: no token column, no rows for migrations 2 to 6, a
  // row standing for an absent key, as versions 1 and 2 left them, and the
  // events' foreign key to their streams and their xids, as versions 1 to 3
  // had them; the old event's commit row compacted away, as version 3 did
  // after a day.
  const std::string& in = schema_;
  ASSERT_TRUE(admin_
                  .Exec("ALTER TABLE " + in +
                        ".commits DROP COLUMN token, DROP COLUMN stream_ids, " +
                        "DROP COLUMN first_seqs, DROP COLUMN last_seqs; DELETE FROM " + in +
                        ".commits; DROP FUNCTION " + in +
                        ".append_remembered; DROP TRIGGER streams_are_kept ON " + in +
                        ".streams; DROP FUNCTION " + in + ".refuse_stream_delete; DROP INDEX " +
                        in + ".streams_truncated; ALTER TABLE " + in +
                        ".events ADD CONSTRAINT events_stream_id_fkey FOREIGN KEY (stream_id) "
                        "REFERENCES " +
                        in + ".streams (id), ADD COLUMN xid xid8 NOT NULL DEFAULT " +
                        "pg_current_xact_id(); CREATE INDEX events_by_xid ON " + in +
                        ".events (xid); DELETE FROM " + in +
                        ".schema_version WHERE version >= 2; DROP TABLE " + in +
                        ".followers; DROP SEQUENCE " + in + ".marks_moved; DROP FUNCTION " + in +
                        ".row_hwm_above; ALTER TABLE " + in +
                        ".events ADD CONSTRAINT events_seq_check CHECK (seq > 0); " +
                        "INSERT INTO " + in + ".kv VALUES ('\\x00', 'absent', NULL)")
                  .ok());
  std::unique_ptr<backend::Backend> db;
  Open(&db);
  EXPECT_EQ(Stat(db.get(), "schema-version"), static_cast<uint64_t>(LatestSchemaVersion()));
  EXPECT_EQ(LatestSchemaVersion(), 7);
  ASSERT_TRUE(Append(db.get(), "s", 2, "new").ok());
  std::vector<Event> events;
  ASSERT_TRUE(db->Read("s", 1, 10, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].payload, "old");
  // The commit after the migration has its token.
  EXPECT_EQ(Count(&admin_, "SELECT count(token)::int8 FROM " + schema_ + ".commits"), 1);
  // Version 3 takes no row to lock an absent key.
  EXPECT_EQ(Count(&admin_, "SELECT count(*)::int8 FROM " + schema_ + ".kv WHERE value IS NULL"), 0);
  // Version 7 finds a lost commit's token through the primary key.
  EXPECT_EQ(Count(&admin_, "SELECT count(*)::int8 FROM pg_indexes WHERE schemaname = '" + schema_ +
                               "' AND indexname = 'commits_by_token'"),
            0);
  // Version 4 checks no event against its stream's row.
  EXPECT_EQ(Count(&admin_,
                  "SELECT count(*)::int8 FROM pg_constraint WHERE contype = 'f' AND "
                  "conrelid = '" +
                      schema_ + ".events'::regclass"),
            0);
  // A follower reads the old event (its commit row made again) and the new.
  EXPECT_EQ(FollowedPayloads(db.get(), 2), (std::vector<std::string>{"old", "new"}));
}

TEST_F(PgBackend, MigratingToVersion5MarksTheJumpsEarlierVersionsLeftInTheRows) {
  ASSERT_TRUE(Append(db_.get(), "jumped", 1, "a").ok());
  ASSERT_TRUE(Append(db_.get(), "jumped", 7, "b").ok());
  ASSERT_TRUE(Append(db_.get(), "dense", 1, "c").ok());
  ASSERT_TRUE(Append(db_.get(), "dense", 2, "d").ok());
  ASSERT_TRUE(AppendRunAndTruncate(db_.get(), "cut", 1, 2, 1).ok());
  ASSERT_TRUE(Append(db_.get(), "cut", 9, "g").ok());
  db_.reset();
  // As version 4 left them: no jump raised a row hwm; no followers table
  // (version 6); the events' check, the token's index and no marks_moved
  // (version 7); append_remembered with version 4's arguments (a
  // stand-in: version 5 alters it, 7 replaces it).
  const std::string& in = schema_;
  ASSERT_TRUE(admin_
                  .Exec("UPDATE " + in + ".streams SET hwm = 2 WHERE name = 'cut'; " + "UPDATE " +
                        in + ".streams SET hwm = 0 WHERE name <> 'cut'; " + "DELETE FROM " + in +
                        ".schema_version WHERE version >= 5; " + "DROP TABLE " + in +
                        ".followers; DROP SEQUENCE " + in + ".marks_moved; DROP FUNCTION " + in +
                        ".row_hwm_above; ALTER TABLE " + in +
                        ".events ADD CONSTRAINT events_seq_check CHECK (seq > 0); " +
                        "CREATE INDEX commits_by_token ON " + in + ".commits (token); " +
                        "DROP FUNCTION " + in + ".append_remembered; " + "CREATE FUNCTION " + in +
                        ".append_remembered(bigint[], bigint[], bigint[], bigint[], bigint[], "
                        "bytea[], bytea, bigint[], bigint[], bigint[]) RETURNS void "
                        "LANGUAGE sql AS ''")
                  .ok());
  std::unique_ptr<backend::Backend> db;
  Open(&db);
  auto row_hwm = [&](const char* name) {
    return Count(&admin_, "SELECT hwm FROM " + schema_ + ".streams WHERE name = '" + name + "'");
  };
  EXPECT_EQ(row_hwm("jumped"), 7);
  EXPECT_EQ(row_hwm("dense"), 0);
  EXPECT_EQ(row_hwm("cut"), 9);  // 9 jumped above the truncation's mark, 2
  EXPECT_EQ(Last(db.get(), "jumped"), 7u);
  EXPECT_EQ(Last(db.get(), "dense"), 2u);
}

// A group of batches appending runs to remembered streams goes in one round
// trip, and its commit row's ranges cover each stream's run; a batch the
// remembered marks refuse sends its group the long way, which refuses only
// that batch.
TEST_F(PgBackend, RunsOfAppendsInOneGroupTakeOneRoundTripAndAreFollowedWhole) {
  ASSERT_TRUE(Append(db_.get(), "s", 1, "a").ok());  // the long way: learns "s"
  ASSERT_TRUE(Append(db_.get(), "t", 1, "b").ok());
  ASSERT_EQ(Stat(db_.get(), "commits-one-trip"), 0u);
  WriteBatch b1, b2, b3;
  b1.Append("s", 2, "c");
  b2.Append("t", 2, "d");
  b2.Append("s", 3, "e");
  b3.AppendExpect("s", 3, 4, "f");
  std::vector<const WriteBatch*> group{&b1, &b2, &b3};
  std::vector<Status> results;
  db_->CommitGroup(group, &results);
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Stat(db_.get(), "commits-one-trip"), 1u);
  // Commits in order; within one, streams by id ("s" first), then seqs.
  EXPECT_EQ(FollowedPayloads(db_.get(), 6),
            (std::vector<std::string>{"a", "b", "c", "e", "f", "d"}));

  WriteBatch b4, b5;
  b4.Append("s", 5, "g");
  b5.Append("s", 5, "again");
  std::vector<const WriteBatch*> refused{&b4, &b5};
  db_->CommitGroup(refused, &results);
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_TRUE(results[1].IsConflict()) << results[1].ToString();
  EXPECT_EQ(Stat(db_.get(), "commits-one-trip"), 1u);
  EXPECT_EQ(Seqs(db_.get(), "s"), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(Stat(db_.get(), "one-trip-misses"), 0u);  // refused in the client: no miss
}

TEST_F(PgBackend, CompactKeepsTheCommitRowsFollowersReadBy) {
  ASSERT_TRUE(Append(db_.get(), "s", 1, "a").ok());
  ASSERT_TRUE(Append(db_.get(), "t", 1, "b").ok());
  store::WriteBatch cut;
  cut.TruncateThrough("t", 1);
  ASSERT_TRUE(db_->Commit(cut).ok());
  ASSERT_TRUE(Append(db_.get(), "s", 2, "c").ok());
  ASSERT_TRUE(
      admin_.Exec("UPDATE " + schema_ + ".commits SET at = now() - interval '2 days'").ok());
  ASSERT_TRUE(db_->Compact().ok());
  // Gone: the row of "b" (truncated) and the truncation's (no events). Kept:
  // the rows of "a" and "c", whose events a follower from 0 still reads.
  EXPECT_EQ(Count(&admin_, "SELECT count(*)::int8 FROM " + schema_ + ".commits"), 2);
  EXPECT_EQ(FollowedPayloads(db_.get(), 2), (std::vector<std::string>{"a", "c"}));
}

TEST_F(PgBackend, ASchemaFromANewerVersionIsRefused) {
  ASSERT_TRUE(admin_.Exec("INSERT INTO " + schema_ + ".schema_version VALUES (999)").ok());
  std::unique_ptr<backend::Backend> db;
  Status s = OpenPostgres(Options(), &db);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("version 999, newer"), std::string::npos) << s.ToString();
}

TEST_F(PgBackend, ConnectionErrorsNameTheServerWithoutThePassword) {
  // The same server with a wrong password.
  std::string url = base_url_;
  size_t colon = url.find(':', url.find("://") + 3), at = url.find('@');
  ASSERT_NE(at, std::string::npos);
  std::string password = url.substr(colon + 1, at - colon - 1);
  ASSERT_FALSE(password.empty());
  std::string wrong = url.substr(0, colon + 1) + "not-the-password" + url.substr(at);
  PgOptions o = Options();
  o.url = wrong;
  std::unique_ptr<backend::Backend> db;
  Status s = OpenPostgres(o, &db);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find(Conn::Redact(base_url_)), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("password authentication failed"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("not-the-password"), std::string::npos) << s.ToString();
  // No server on a port: the cause is the refused connection.
  o.url = "postgresql://sx:secret@127.0.0.1:1/nothing";
  s = OpenPostgres(o, &db);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("postgres postgresql://sx@127.0.0.1:1/nothing: cannot connect"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(s.message().find("secret"), std::string::npos) << s.ToString();
}

TEST_F(PgBackend, AppendsAreReadBackInOrder) {
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    ASSERT_TRUE(Append(db_.get(), "orders", seq, "e" + std::to_string(seq)).ok());
  }
  std::vector<Event> events;
  ASSERT_TRUE(db_->Read("orders", 2, 2, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 2u);
  EXPECT_EQ(events[0].payload, "e2");
  EXPECT_EQ(events[1].payload, "e3");
  EXPECT_EQ(Seqs(db_.get(), "orders", 4), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(Seqs(db_.get(), "orders", 1, 0), (std::vector<uint64_t>{}));
  EXPECT_EQ(Last(db_.get(), "orders"), 5u);
  uint64_t first = 0;
  ASSERT_TRUE(db_->FirstSeq("orders", &first).ok());
  EXPECT_EQ(first, 1u);
  // A stream never appended to.
  EXPECT_EQ(Last(db_.get(), "none"), 0u);
  ASSERT_TRUE(db_->FirstSeq("none", &first).ok());
  EXPECT_EQ(first, 1u);
  EXPECT_TRUE(Seqs(db_.get(), "none").empty());
}

TEST_F(PgBackend, AnAppendAtOrBelowTheHighWaterMarkIsAConflict) {
  ASSERT_TRUE(Append(db_.get(), "s", 1, "a").ok());
  ASSERT_TRUE(Append(db_.get(), "s", 7, "gap").ok());  // seqs may skip ahead
  Status s = Append(db_.get(), "s", 7, "again");
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.expected(), 8u);
  EXPECT_EQ(s.actual(), 7u);
  EXPECT_EQ(s.message(), "append to stream \"s\": seq 7 is not above the high-water mark 7");
  WriteBatch b;
  b.AppendExpect("s", 6, 8, "x");
  s = db_->Commit(b);
  ASSERT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(s.expected(), 6u);
  EXPECT_EQ(s.actual(), 7u);
  EXPECT_EQ(Seqs(db_.get(), "s"), (std::vector<uint64_t>{1, 7}));
}

TEST_F(PgBackend, ABatchIsAllOrNothingAndSeesItsEarlierOps) {
  WriteBatch ok;
  ok.Append("a", 1, "a1");
  ok.AppendExpect("a", 1, 2, "a2");  // sees the append before it
  ok.KvPut("k", "v");
  ok.KvCas("k", "v", "w");
  ASSERT_TRUE(db_->Commit(ok).ok());
  WriteBatch bad;
  bad.Append("b", 1, "b1");
  bad.KvPut("k", "lost");
  bad.AppendExpect("a", 5, 3, "a3");  // refuses the whole batch
  Status s = db_->Commit(bad);
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(Seqs(db_.get(), "a"), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Last(db_.get(), "b"), 0u);
  std::string v;
  ASSERT_TRUE(db_->KvGet("k", &v).ok());
  EXPECT_EQ(v, "w");
  std::vector<std::string> streams;
  ASSERT_TRUE(db_->Streams(&streams).ok());
  EXPECT_EQ(streams, (std::vector<std::string>{"a"}));  // "b" was never appended to
}

TEST_F(PgBackend, AGroupChecksEachBatchAgainstTheOnesAcceptedBeforeIt) {
  WriteBatch b0, b1, b2, b3, b4;
  b0.Append("s", 1, "first");
  b1.Append("s", 1, "duplicate");  // conflicts with b0
  b2.AppendExpect("s", 1, 2, "second");
  b3.KvCas("k", std::nullopt, "v1");
  b4.KvCas("k", std::nullopt, "v2");  // b3 made it present
  const WriteBatch* group[] = {&b0, &b1, &b2, &b3, &b4};
  std::vector<Status> results;
  db_->CommitGroup(group, &results);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_TRUE(results[1].IsConflict()) << results[1].ToString();
  EXPECT_EQ(results[1].actual(), 1u);
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  EXPECT_TRUE(results[3].ok()) << results[3].ToString();
  EXPECT_TRUE(results[4].IsConflict()) << results[4].ToString();
  EXPECT_EQ(results[4].message(), "kv-cas on key \"k\": the key is present");
  std::vector<Event> events;
  ASSERT_TRUE(db_->Read("s", 1, 10, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].payload, "first");
  EXPECT_EQ(events[1].payload, "second");
  std::string v;
  ASSERT_TRUE(db_->KvGet("k", &v).ok());
  EXPECT_EQ(v, "v1");
  // A group of conflicts only changes nothing.
  const WriteBatch* again[] = {&b1, &b4};
  db_->CommitGroup(again, &results);
  EXPECT_TRUE(results[0].IsConflict());
  EXPECT_TRUE(results[1].IsConflict());
  EXPECT_EQ(Last(db_.get(), "s"), 2u);
}

TEST_F(PgBackend, KvPutGetHasKeysDeleteAndCas) {
  WriteBatch b;
  b.KvPut("b", "2");
  b.KvPut("a", "1");
  b.KvPut(std::string("a\0z", 3), "nul");
  ASSERT_TRUE(db_->Commit(b).ok());
  std::string v;
  ASSERT_TRUE(db_->KvGet("a", &v).ok());
  EXPECT_EQ(v, "1");
  EXPECT_TRUE(db_->KvGet("zz", &v).IsNotFound());
  bool has = false;
  ASSERT_TRUE(db_->KvHas("b", &has).ok());
  EXPECT_TRUE(has);
  ASSERT_TRUE(db_->KvHas("zz", &has).ok());
  EXPECT_FALSE(has);
  std::vector<std::string> keys;
  ASSERT_TRUE(db_->KvKeys(&keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a", std::string("a\0z", 3), "b"}));
  WriteBatch cas;
  cas.KvCas("a", "wrong", "x");
  Status s = db_->Commit(cas);
  EXPECT_TRUE(s.IsConflict());
  EXPECT_EQ(s.message(), "kv-cas on key \"a\": the value differs from the expected one");
  WriteBatch cas_absent;
  cas_absent.KvCas("new", "x", "y");
  s = db_->Commit(cas_absent);
  EXPECT_EQ(s.message(), "kv-cas on key \"new\": the key is absent");
  WriteBatch del;
  del.KvDelete("a");
  del.KvCas("b", "2", std::nullopt);  // CAS to absent deletes
  del.KvDelete("never");
  ASSERT_TRUE(db_->Commit(del).ok());
  ASSERT_TRUE(db_->KvKeys(&keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{std::string("a\0z", 3)}));
  ASSERT_TRUE(db_->KvHas("a", &has).ok());
  EXPECT_FALSE(has);
  // A refused CAS on an absent key leaves no row behind.
  Rows rows;
  ASSERT_TRUE(
      admin_.Run("kvrows", ("SELECT count(*)::int8 FROM " + schema_ + ".kv").c_str(), {}, &rows)
          .ok());
  EXPECT_EQ(rows.Int8(0, 0), 1);
}

TEST_F(PgBackend, TruncateThroughDropsEventsAndSeqsKeepRising) {
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_TRUE(Append(db_.get(), "t", seq, "x").ok());
  WriteBatch tr;
  tr.TruncateThrough("t", 3);
  ASSERT_TRUE(db_->Commit(tr).ok());
  EXPECT_EQ(Seqs(db_.get(), "t"), (std::vector<uint64_t>{4, 5}));
  uint64_t first = 0;
  ASSERT_TRUE(db_->FirstSeq("t", &first).ok());
  EXPECT_EQ(first, 4u);
  EXPECT_TRUE(Append(db_.get(), "t", 3, "reused").IsConflict());
  // Through more than the hwm drops everything stored; the hwm stays.
  WriteBatch all;
  all.TruncateThrough("t", 100);
  all.Append("t", 6, "after");  // appended after the truncation: kept
  ASSERT_TRUE(db_->Commit(all).ok());
  EXPECT_EQ(Seqs(db_.get(), "t"), (std::vector<uint64_t>{6}));
  EXPECT_EQ(Last(db_.get(), "t"), 6u);
  WriteBatch drop_all;
  drop_all.Append("t", 7, "x");
  drop_all.TruncateThrough("t", 7);  // appended before it: dropped
  ASSERT_TRUE(db_->Commit(drop_all).ok());
  EXPECT_TRUE(Seqs(db_.get(), "t").empty());
  ASSERT_TRUE(db_->FirstSeq("t", &first).ok());
  EXPECT_EQ(first, 8u);
  std::vector<std::string> streams;
  ASSERT_TRUE(db_->Streams(&streams).ok());
  EXPECT_EQ(streams, (std::vector<std::string>{"t"}));
  // A truncation of a stream never appended to changes nothing.
  WriteBatch none;
  none.TruncateThrough("none", 5);
  ASSERT_TRUE(db_->Commit(none).ok());
  ASSERT_TRUE(db_->Streams(&streams).ok());
  EXPECT_EQ(streams, (std::vector<std::string>{"t"}));
}

TEST_F(PgBackend, NamesOfAnyBytesNulAnd64KiB) {
  std::string nul_a("s\0a", 3), nul_b("s\0b", 3);
  std::string big(64 * 1024, 'n');
  big[100] = '\0';
  std::string big2 = big;
  big2.back() = 'm';  // differs only in its last byte
  ASSERT_TRUE(Append(db_.get(), nul_a, 1, "A").ok());
  ASSERT_TRUE(Append(db_.get(), nul_b, 1, "B").ok());
  ASSERT_TRUE(Append(db_.get(), big, 1, "big").ok());
  ASSERT_TRUE(Append(db_.get(), big2, 1, "big2").ok());
  ASSERT_TRUE(Append(db_.get(), big2, 2, "big2'").ok());
  EXPECT_EQ(Last(db_.get(), nul_a), 1u);
  EXPECT_EQ(Last(db_.get(), big), 1u);
  EXPECT_EQ(Last(db_.get(), big2), 2u);
  EXPECT_EQ(Last(db_.get(), "s"), 0u);
  std::vector<Event> events;
  ASSERT_TRUE(db_->Read(nul_b, 1, 10, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "B");
  std::vector<std::string> streams;
  ASSERT_TRUE(db_->Streams(&streams).ok());
  EXPECT_EQ(streams, (std::vector<std::string>{big2, big, nul_a, nul_b}));
  WriteBatch kv;
  kv.KvPut(big, std::string("v\0v", 3));
  kv.KvPut(nul_a, "a");
  ASSERT_TRUE(db_->Commit(kv).ok());
  std::string v;
  ASSERT_TRUE(db_->KvGet(big, &v).ok());
  EXPECT_EQ(v, std::string("v\0v", 3));
  EXPECT_TRUE(db_->KvGet(big2, &v).IsNotFound());
  std::vector<std::string> keys;
  ASSERT_TRUE(db_->KvKeys(&keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{big, nul_a}));
}

TEST_F(PgBackend, OversizeNamesAndSeqsAreRefusedAndTheRestOfTheGroupCommits) {
  std::string huge((1u << 20) + 1, 'n');  // the embedded store's limit is 1 MiB
  WriteBatch too_long, too_high, fine;
  too_long.Append(huge, 1, "x");
  too_high.Append("s", uint64_t{1} << 63, "x");
  fine.Append("s", 1, "ok");
  const WriteBatch* group[] = {&too_long, &fine, &too_high};
  std::vector<Status> results;
  db_->CommitGroup(group, &results);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].IsInvalidArgument()) << results[0].ToString();
  EXPECT_EQ(results[0].message(), "stream name is 1048577 bytes, more than the limit of 1048576");
  EXPECT_TRUE(results[1].ok()) << results[1].ToString();
  EXPECT_TRUE(results[2].IsInvalidArgument()) << results[2].ToString();
  EXPECT_EQ(Seqs(db_.get(), "s"), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Last(db_.get(), huge), 0u);
}

TEST_F(PgBackend, BlobsAreContentAddressedChunkedAndStoredOnce) {
  std::string small = "hello";
  std::string large(3 * (1u << 20) + 12345, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7 + (i >> 11));
  std::string cid, cid2, cid3;
  ASSERT_TRUE(db_->BlobPut(small, &cid).ok());
  EXPECT_EQ(cid, store::CidForBytes(small));
  ASSERT_TRUE(db_->BlobPut(small, &cid2).ok());
  EXPECT_EQ(cid2, cid);
  ASSERT_TRUE(db_->BlobPut(large, &cid3).ok());
  std::string back;
  ASSERT_TRUE(db_->BlobGet(cid, &back).ok());
  EXPECT_EQ(back, small);
  ASSERT_TRUE(db_->BlobGet(cid3, &back).ok());
  EXPECT_EQ(back, large);
  std::string empty_cid;
  ASSERT_TRUE(db_->BlobPut("", &empty_cid).ok());
  ASSERT_TRUE(db_->BlobGet(empty_cid, &back).ok());
  EXPECT_EQ(back, "");
  EXPECT_EQ(Stat(db_.get(), "blobs"), 3u);
  Rows rows;
  ASSERT_TRUE(admin_
                  .Run("chunks", ("SELECT count(*)::int8 FROM " + schema_ + ".blob_chunks").c_str(),
                       {}, &rows)
                  .ok());
  EXPECT_EQ(rows.Int8(0, 0), 1 + 4 + 1);  // 1 MiB chunks
  bool has = false;
  ASSERT_TRUE(db_->BlobHas(cid3, &has).ok());
  EXPECT_TRUE(has);
  std::string absent = store::CidForBytes("absent");
  ASSERT_TRUE(db_->BlobHas(absent, &has).ok());
  EXPECT_FALSE(has);
  EXPECT_TRUE(db_->BlobGet(absent, &back).IsNotFound());
  EXPECT_TRUE(db_->BlobGet("not-a-cid", &back).IsInvalidArgument());
  // A damaged chunk is found by the hash check.
  ASSERT_TRUE(
      admin_.Exec("UPDATE " + schema_ + ".blob_chunks SET bytes = 'x' WHERE cid = '" + cid + "'")
          .ok());
  EXPECT_TRUE(db_->BlobGet(cid, &back).IsCorruption());
}

TEST_F(PgBackend, StatsSyncAndCompact) {
  ASSERT_TRUE(Append(db_.get(), "a", 1, "x").ok());
  ASSERT_TRUE(Append(db_.get(), "a", 2, "y").ok());
  ASSERT_TRUE(Append(db_.get(), "b", 1, "z").ok());
  WriteBatch kv;
  kv.KvPut("k", "v");
  ASSERT_TRUE(db_->Commit(kv).ok());
  EXPECT_EQ(Stat(db_.get(), "events"), 3u);
  EXPECT_EQ(Stat(db_.get(), "streams"), 2u);
  EXPECT_EQ(Stat(db_.get(), "kv-keys"), 1u);
  EXPECT_EQ(Stat(db_.get(), "commits"), 4u);
  EXPECT_EQ(Stat(db_.get(), "schema-version"), static_cast<uint64_t>(LatestSchemaVersion()));
  EXPECT_TRUE(db_->Sync().ok());
  EXPECT_TRUE(db_->Compact().ok());
  EXPECT_EQ(Stat(db_.get(), "events"), 3u);
}

TEST_F(PgBackend, CommitPositionRisesAndWaitForCommitWakesOnAnotherWriter) {
  uint64_t p0 = 0, p1 = 0, p2 = 0;
  ASSERT_TRUE(db_->CommitPosition(&p0).ok());
  ASSERT_TRUE(Append(db_.get(), "s", 1, "x").ok());
  // The position passes the commit once every older transaction of the
  // server (other tests run beside this one) has ended.
  ASSERT_TRUE(db_->WaitForCommit(p0, 60000, &p1).ok());
  EXPECT_GT(p1, p0);
  // Nothing new: a zero timeout answers at once with the same position.
  ASSERT_TRUE(db_->WaitForCommit(p1, 0, &p2).ok());
  EXPECT_EQ(p2, p1);
  // A commit by another backend (another process, on another host) wakes it.
  std::unique_ptr<backend::Backend> other;
  Open(&other);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(Append(other.get(), "s", 2, "y").ok());
  });
  ASSERT_TRUE(db_->WaitForCommit(p1, 60000, &p2).ok());
  writer.join();
  EXPECT_GT(p2, p1);
  std::vector<CommittedEvent> events;
  uint64_t pos = 0;
  ASSERT_TRUE(ReadCommitted(db_.get(), p1, 100, &events, &pos).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].seq, 2u);
  EXPECT_EQ(events[0].payload, "y");
  EXPECT_EQ(pos, p2);
}

// A wake-up costs the server a transaction: a writer sends them only while
// a follower's lease is current.
TEST_F(PgBackend, AWriterSendsWakeUpsOnlyWhileSomeoneFollows) {
  PgOptions o = Options();
  o.followers_check_ms = 0;  // look at every commit
  std::unique_ptr<backend::Backend> writer;
  Open(&writer, o);
  uint64_t seq = 0;
  auto append = [&] {
    // Wake-ups go at most one per 2 ms from a process.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(Append(writer.get(), "s", ++seq, "x").ok());
  };
  append();  // the first commit does not know yet, and learns nobody follows
  uint64_t sent = Stat(writer.get(), "wake-ups");
  EXPECT_EQ(sent, 1u);
  append();
  append();
  EXPECT_EQ(Stat(writer.get(), "wake-ups"), sent);

  // db_ starts to follow: its first wait takes a lease.
  uint64_t pos = 0;
  ASSERT_TRUE(db_->WaitForCommit(0, 0, &pos).ok());
  ASSERT_TRUE(db_->WaitForCommit(pos, 200, &pos).ok());
  EXPECT_EQ(Count(&admin_, "SELECT count(*)::int8 FROM " + schema_ + ".followers"), 1);
  append();  // learns that someone follows
  append();
  EXPECT_EQ(Stat(writer.get(), "wake-ups"), sent + 1);
  std::thread later([&] { append(); });
  uint64_t now = pos;
  ASSERT_TRUE(db_->WaitForCommit(pos, 60000, &now).ok());
  later.join();
  EXPECT_GT(now, pos);
  EXPECT_EQ(Stat(writer.get(), "wake-ups"), sent + 2);

  // Its lease runs out (it stopped waiting), and the wake-ups stop; Compact
  // drops the lease.
  ASSERT_TRUE(
      admin_.Exec("UPDATE " + schema_ + ".followers SET until = now() - interval '1 second'").ok());
  append();  // sends one more, not knowing yet, and learns
  append();
  append();
  EXPECT_EQ(Stat(writer.get(), "wake-ups"), sent + 3);
  ASSERT_TRUE(writer->Compact().ok());
  EXPECT_EQ(Count(&admin_, "SELECT count(*)::int8 FROM " + schema_ + ".followers"), 0);
}

}  // namespace
}  // namespace sx::pg
