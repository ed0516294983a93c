#include "host/pg/pg_backend.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <unordered_set>

#include "host/pg/migrations.h"
#include "host/pg/pg_conn.h"
#include "host/store/cid.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/sha256.h"

namespace sx::pg {

namespace {

using backend::Event;
using backend::Stats;
using store::WriteBatch;
using Clock = std::chrono::steady_clock;

constexpr size_t kBlobChunkBytes = 1u << 20;
constexpr int kNotifyEveryMs = 2;
constexpr size_t kMaxKnownStreams = 100000;
constexpr uint64_t kMaxSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::string HashOf(const std::string& name) {
  store::Sha256::Digest d = store::Sha256::Hash(name);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// A name for messages, escaped and cut as the embedded store does it, so
// both engines give the same messages.
std::string Quote(const std::string& name) {
  std::string out = "\"";
  out += store::EscapeBytes(name, 64);
  out += '"';
  return out;
}

// The embedded store's limits, with its messages.
Status CheckBatch(const WriteBatch& batch) {
  for (const WriteBatch::Op& op : batch.ops()) {
    bool is_key = op.kind == WriteBatch::OpKind::kKvPut ||
                  op.kind == WriteBatch::OpKind::kKvDelete || op.kind == WriteBatch::OpKind::kKvCas;
    if (op.name.size() > store::log::kMaxNameBytes) {
      return Status::InvalidArgument(
          std::string(is_key ? "key" : "stream name") + " is " + std::to_string(op.name.size()) +
          " bytes, more than the limit of " + std::to_string(store::log::kMaxNameBytes));
    }
    if (op.value && op.value->size() > store::log::kMaxValueBytes) {
      return Status::InvalidArgument(
          std::string(is_key ? "value" : "payload") + " is " + std::to_string(op.value->size()) +
          " bytes, more than the limit of " + std::to_string(store::log::kMaxValueBytes));
    }
    if (op.seq > kMaxSeq || op.expected_seq > kMaxSeq) {
      return Status::InvalidArgument("seq " + std::to_string(std::max(op.seq, op.expected_seq)) +
                                     " is above the PostgreSQL backend's limit of 2^63-1");
    }
  }
  return Status::OK();
}

// SQLSTATEs after which the whole transaction can simply run again.
bool Retryable(const std::string& sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate.rfind("08", 0) == 0;
}

// --- statements -------------------------------------------------------------

// Creates the rows of streams not seen before, in name-hash order (the
// NOT EXISTS spares the identity sequence for streams that exist).
const char kInsertStreams[] =
    "INSERT INTO streams (name_hash, name) "
    "SELECT h, n FROM unnest($1::bytea[], $2::bytea[]) AS u(h, n) "
    "WHERE NOT EXISTS (SELECT 1 FROM streams WHERE name_hash = u.h) ORDER BY h "
    "ON CONFLICT (name_hash) DO NOTHING";

// Locks every stream row, in name-hash order.
const char kLockStreams[] =
    "SELECT name_hash, id, hwm FROM streams WHERE name_hash = ANY($1::bytea[]) "
    "ORDER BY name_hash FOR UPDATE";

// Locks every key (a NULL-valued row stands for an absent key), in hash order.
const char kLockKeys[] =
    "INSERT INTO kv AS k (key_hash, key, value) "
    "SELECT h, n, NULL FROM unnest($1::bytea[], $2::bytea[]) AS u(h, n) ORDER BY h "
    "ON CONFLICT (key_hash) DO UPDATE SET value = k.value "
    "RETURNING k.key_hash, k.value";

// Every write of the accepted batches, and the commit's row, in one statement.
// The events inserted here are not seen by the DELETE of the same statement:
// the caller leaves out appended events that a later truncation drops.
const char kWrite[] =
    "WITH ins AS (INSERT INTO events (stream_id, seq, payload) "
    "    SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])), "
    "  hwm AS (UPDATE streams AS s SET hwm = greatest(s.hwm, u.hwm) "
    "    FROM unnest($4::int8[], $5::int8[]) AS u(id, hwm) WHERE s.id = u.id), "
    "  trunc AS (DELETE FROM events AS e USING unnest($6::int8[], $7::int8[]) AS t(id, upto) "
    "    WHERE e.stream_id = t.id AND e.seq <= t.upto), "
    "  kput AS (UPDATE kv AS k SET value = u.v "
    "    FROM unnest($8::bytea[], $9::bytea[]) AS u(h, v) WHERE k.key_hash = u.h), "
    "  kdel AS (DELETE FROM kv WHERE key_hash = ANY($10::bytea[])) "
    "INSERT INTO commits (token) VALUES ($11)";

// The same for a group of appends only (the common case), with less to plan.
const char kWriteAppends[] =
    "WITH ins AS (INSERT INTO events (stream_id, seq, payload) "
    "    SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])), "
    "  hwm AS (UPDATE streams AS s SET hwm = greatest(s.hwm, u.hwm) "
    "    FROM unnest($4::int8[], $5::int8[]) AS u(id, hwm) WHERE s.id = u.id) "
    "INSERT INTO commits (token) VALUES ($6)";

// The followers' position: the newest commit below the oldest running xid.
const char kPosition[] =
    "SELECT coalesce(max(xid)::text, '0')::int8 FROM commits "
    "WHERE xid < pg_snapshot_xmin(pg_current_snapshot())";

class PgBackend final : public backend::Backend {
 public:
  explicit PgBackend(PgOptions options) : opt_(std::move(options)) {}

  Status Open() {
    Status s = conn_.Connect(opt_.url);
    if (!s.ok()) return s;
    return Migrate();
  }

  const char* kind() const override { return "postgres"; }

  void CommitGroup(std::span<const WriteBatch* const> batches,
                   std::vector<Status>* results) override;

  Status Read(const std::string& stream, uint64_t from_seq, size_t limit,
              std::vector<Event>* out) override {
    out->clear();
    if (limit == 0) return Status::OK();
    int64_t from = static_cast<int64_t>(std::min<uint64_t>(from_seq, kMaxSeq));
    int64_t lim = static_cast<int64_t>(std::min<uint64_t>(limit, kMaxSeq));
    Rows rows;
    Status s = Query("read",
                     "SELECT e.seq, e.payload FROM events e JOIN streams s ON s.id = e.stream_id "
                     "WHERE s.name_hash = $1 AND e.seq >= $2 ORDER BY e.seq LIMIT $3",
                     {ByteaParam(HashOf(stream)), Int8Param(from), Int8Param(lim)}, &rows);
    if (!s.ok()) return s;
    out->reserve(rows.size());
    for (int i = 0; i < rows.size(); ++i) {
      out->push_back(Event{static_cast<uint64_t>(rows.Int8(i, 0)), rows.Bytes(i, 1)});
    }
    stats_records_read_ += out->size();
    return Status::OK();
  }

  Status LastSeq(const std::string& stream, uint64_t* seq) override {
    Rows rows;
    Status s = Query("last_seq", "SELECT hwm FROM streams WHERE name_hash = $1",
                     {ByteaParam(HashOf(stream))}, &rows);
    if (!s.ok()) return s;
    *seq = rows.size() ? static_cast<uint64_t>(rows.Int8(0, 0)) : 0;
    return Status::OK();
  }

  Status FirstSeq(const std::string& stream, uint64_t* seq) override {
    Rows rows;
    Status s = Query("first_seq",
                     "SELECT coalesce((SELECT min(seq) FROM events WHERE stream_id = s.id), "
                     "s.hwm + 1) FROM streams s WHERE s.name_hash = $1",
                     {ByteaParam(HashOf(stream))}, &rows);
    if (!s.ok()) return s;
    *seq = rows.size() ? static_cast<uint64_t>(rows.Int8(0, 0)) : 1;
    return Status::OK();
  }

  Status Streams(std::vector<std::string>* out) override {
    return Names("streams", "SELECT name FROM streams WHERE hwm > 0", out);
  }

  Status KvGet(const std::string& key, std::string* value) override {
    Rows rows;
    Status s = Query("kv_get", "SELECT value FROM kv WHERE key_hash = $1 AND value IS NOT NULL",
                     {ByteaParam(HashOf(key))}, &rows);
    if (!s.ok()) return s;
    if (rows.size() == 0) return Status::NotFound("key " + Quote(key) + " is absent");
    *value = rows.Bytes(0, 0);
    return Status::OK();
  }

  Status KvHas(const std::string& key, bool* has) override {
    Rows rows;
    Status s = Query("kv_has", "SELECT 1 FROM kv WHERE key_hash = $1 AND value IS NOT NULL",
                     {ByteaParam(HashOf(key))}, &rows);
    if (s.ok()) *has = rows.size() > 0;
    return s;
  }

  Status KvKeys(std::vector<std::string>* out) override {
    return Names("kv_keys", "SELECT key FROM kv WHERE value IS NOT NULL", out);
  }

  Status BlobPut(const std::string& bytes, std::string* cid) override;
  Status BlobGet(const std::string& cid, std::string* bytes) override;
  Status BlobHas(const std::string& cid, bool* has) override {
    store::Sha256::Digest d;
    if (!store::ParseRawSha256Cid(cid, &d)) {
      *has = false;
      return Status::OK();
    }
    Rows rows;
    Status s = Query("blob_has", "SELECT 1 FROM blobs WHERE cid = $1", {TextParam(cid)}, &rows);
    if (s.ok()) *has = rows.size() > 0;
    return s;
  }

  // A COMMIT that returned is on the server's stable storage (with the
  // server's default synchronous_commit = on); nothing more to do.
  Status Sync() override { return Status::OK(); }

  // Drops the rows that stood for absent keys and commit rows older than a
  // day but the newest (the position needs only the newest);
  // the server's autovacuum reclaims the space.
  Status Compact() override {
    Status s = Query("compact_kv", "DELETE FROM kv WHERE value IS NULL", {}, nullptr);
    if (s.ok()) {
      s = Query("compact_commits",
                "DELETE FROM commits WHERE at < now() - interval '1 day' "
                "AND xid < (SELECT max(xid) FROM commits)",
                {}, nullptr);
    }
    return s;
  }

  Status GetStats(Stats* out) override {
    Rows rows;
    Status s = Query("stats",
                     "SELECT (SELECT count(*) FROM events), "
                     "(SELECT count(*) FROM streams WHERE hwm > 0), "
                     "(SELECT count(*) FROM kv WHERE value IS NOT NULL), "
                     "(SELECT count(*) FROM blobs), "
                     "(SELECT coalesce(sum(size), 0)::int8 FROM blobs)",
                     {}, &rows);
    if (!s.ok()) return s;
    out->clear();
    const char* names[] = {"events", "streams", "kv-keys", "blobs", "blob-bytes"};
    for (int i = 0; i < 5; ++i) out->emplace_back(names[i], rows.Int8(0, i));
    out->emplace_back("appends", stats_appends_);
    out->emplace_back("records-read", stats_records_read_);
    out->emplace_back("commits", stats_commits_);
    out->emplace_back("commit-retries", stats_retries_);
    out->emplace_back("commit-read-backs", stats_read_backs_);
    out->emplace_back("schema-version", LatestSchemaVersion());
    return Status::OK();
  }

  Status CommitPosition(uint64_t* position) override {
    Rows rows;
    Status s = Query("position", kPosition, {}, &rows);
    if (s.ok()) *position = static_cast<uint64_t>(rows.Int8(0, 0));
    return s;
  }

  Status WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) override;
  bool SeesOtherWriters() const override { return true; }
  bool SetSocketWaiter(SocketWaiter waiter) override {
    conn_.set_waiter(std::move(waiter));
    return true;
  }

  Status ReadCommitted(uint64_t after, size_t limit, std::vector<CommittedEvent>* out,
                       uint64_t* position);

 private:
  Status Migrate();
  // A statement with one reconnect-and-retry when the connection was lost.
  Status Query(const char* name, const char* sql, const std::vector<Param>& params, Rows* out) {
    Status s = Ensure();
    if (s.ok()) s = conn_.Run(name, sql, params, out);
    if (!s.ok() && conn_.broken()) {
      s = conn_.Reconnect();
      if (s.ok()) s = AfterConnect();
      if (s.ok()) s = conn_.Run(name, sql, params, out);
    }
    return s;
  }
  Status Names(const char* name, const char* sql, std::vector<std::string>* out) {
    Rows rows;
    Status s = Query(name, sql, {}, &rows);
    if (!s.ok()) return s;
    out->clear();
    for (int i = 0; i < rows.size(); ++i) out->push_back(rows.Bytes(i, 0));
    std::sort(out->begin(), out->end());
    return Status::OK();
  }
  Status Ensure() {
    if (!conn_.broken()) return Status::OK();
    Status s = conn_.Reconnect();
    if (s.ok()) s = AfterConnect();
    return s;
  }
  Status AfterConnect() {
    listening_ = false;
    return conn_.Run("search_path", "SELECT set_config('search_path', $1, false)",
                     {TextParam(conn_.QuoteIdent(opt_.schema))}, nullptr);
  }
  // One try at the group; *retry says whether running it again may succeed.
  Status TryCommitGroup(std::span<const WriteBatch* const> batches, const std::vector<bool>& valid,
                        std::vector<Status>* results, bool* retry);
  // Decides a COMMIT whose answer was lost, by the server's record of the
  // transaction (pg_xact_status): *committed or not.
  Status ReadBack(int64_t xid, const std::string& token, bool* committed);
  // 16 random bytes: the token of one try at a group's transaction.
  std::string NewToken() {
    std::string t(16, '\0');
    for (size_t i = 0; i < t.size(); i += 8) {
      uint64_t r = rng_();
      std::memcpy(&t[i], &r, 8);
    }
    return t;
  }
  std::string Channel() const { return "sx_commits:" + opt_.schema; }

  PgOptions opt_;
  Conn conn_;
  bool listening_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
  uint64_t stats_appends_ = 0;       // by this process, as the other engines count them
  uint64_t stats_records_read_ = 0;  // event rows Read returned to this process
  uint64_t stats_commits_ = 0;
  uint64_t stats_retries_ = 0;
  uint64_t stats_read_backs_ = 0;
  Clock::time_point last_notify_;
  std::unordered_set<std::string> known_streams_;  // name hashes with a row
};

Status PgBackend::Migrate() {
  std::string schema = conn_.QuoteIdent(opt_.schema);
  // One migrating process at a time per schema: a transaction-scoped
  // advisory lock keyed by the schema's name.
  Status s = conn_.Exec("BEGIN");
  if (s.ok()) {
    s = conn_.Run("migrate_lock", "SELECT pg_advisory_xact_lock(hashtext($1))",
                  {TextParam("sx schema " + opt_.schema)}, nullptr);
  }
  if (s.ok()) s = conn_.Exec("CREATE SCHEMA IF NOT EXISTS " + schema);
  if (s.ok()) {
    s = conn_.Exec("CREATE TABLE IF NOT EXISTS " + schema +
                   ".schema_version (version integer NOT NULL)");
  }
  if (s.ok()) {
    s = conn_.Run("migrate_path", "SELECT set_config('search_path', $1, true)", {TextParam(schema)},
                  nullptr);
  }
  Rows rows;
  if (s.ok()) {
    s = conn_.Run("migrate_version", "SELECT coalesce(max(version), 0)::int8 FROM schema_version",
                  {}, &rows);
  }
  int64_t version = s.ok() ? rows.Int8(0, 0) : 0;
  if (s.ok() && version > LatestSchemaVersion()) {
    conn_.Exec("ROLLBACK").IgnoreError();
    return Status::InvalidArgument(conn_.where() + ": schema " + Quote(opt_.schema) +
                                   " is at version " + std::to_string(version) +
                                   ", newer than this sx understands (" +
                                   std::to_string(LatestSchemaVersion()) + ")");
  }
  for (const Migration* m = Migrations(); s.ok() && m->sql; ++m) {
    if (m->version <= version) continue;
    s = conn_.Exec(m->sql);
    if (!s.ok()) s = s.WithContext(std::string("migration ") + m->name);
    if (s.ok()) {
      s = conn_.Run("migrate_set", "INSERT INTO schema_version (version) VALUES ($1)",
                    {Int8Param(m->version)}, nullptr);
    }
  }
  if (s.ok()) s = conn_.Exec("COMMIT");
  if (!s.ok()) {
    if (!conn_.broken()) conn_.Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return AfterConnect();
}

void PgBackend::CommitGroup(std::span<const WriteBatch* const> batches,
                            std::vector<Status>* results) {
  results->assign(batches.size(), Status::OK());
  std::vector<bool> valid(batches.size());
  bool any = false;
  for (size_t i = 0; i < batches.size(); ++i) {
    (*results)[i] = CheckBatch(*batches[i]);
    valid[i] = (*results)[i].ok() && !batches[i]->empty();
    any |= valid[i];
  }
  if (!any) return;
  Clock::time_point give_up = Clock::now() + std::chrono::milliseconds(opt_.retry_ms);
  int backoff_ms = 10;
  for (;;) {
    bool retry = false;
    std::vector<Status> attempt(batches.size());
    Status s = TryCommitGroup(batches, valid, &attempt, &retry);
    if (s.ok()) {
      for (size_t i = 0; i < batches.size(); ++i) {
        if (!valid[i]) continue;
        (*results)[i] = attempt[i];
        if (!attempt[i].ok()) continue;
        for (const WriteBatch::Op& op : batches[i]->ops()) {
          if (op.kind == WriteBatch::OpKind::kAppend ||
              op.kind == WriteBatch::OpKind::kAppendExpect) {
            ++stats_appends_;
          }
        }
      }
      return;
    }
    if (!retry || Clock::now() >= give_up) {
      for (size_t i = 0; i < batches.size(); ++i) {
        if (valid[i]) (*results)[i] = s;
      }
      return;
    }
    ++stats_retries_;
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 500);
  }
}

Status PgBackend::TryCommitGroup(std::span<const WriteBatch* const> batches,
                                 const std::vector<bool>& valid, std::vector<Status>* results,
                                 bool* retry) {
  *retry = true;  // until the answer is known, a failure rolled everything back
  Status s = Ensure();
  if (!s.ok()) return s;

  // The streams and keys the group touches, each once.
  std::map<std::string, std::string> stream_hash, key_hash;  // name -> sha256
  for (size_t i = 0; i < batches.size(); ++i) {
    if (!valid[i]) continue;
    for (const WriteBatch::Op& op : batches[i]->ops()) {
      bool is_key = op.kind == WriteBatch::OpKind::kKvPut ||
                    op.kind == WriteBatch::OpKind::kKvDelete ||
                    op.kind == WriteBatch::OpKind::kKvCas;
      auto& m = is_key ? key_hash : stream_hash;
      if (!m.count(op.name)) m.emplace(op.name, HashOf(op.name));
    }
  }
  auto fail = [&](Status st) {
    *retry = conn_.broken() || Retryable(conn_.sqlstate());
    if (!conn_.broken()) conn_.Exec("ROLLBACK").IgnoreError();
    return st;
  };

  // One round trip: BEGIN and the locks, streams first, then keys.
  std::vector<const std::string*> s_hashes, s_names, k_hashes, k_names;
  std::map<std::string, const std::string*> stream_by_hash, key_by_hash;
  for (const auto& [name, h] : stream_hash) {
    s_names.push_back(&name);
    s_hashes.push_back(&h);
    stream_by_hash[h] = &name;
  }
  for (const auto& [name, h] : key_hash) {
    k_names.push_back(&name);
    k_hashes.push_back(&h);
    key_by_hash[h] = &name;
  }
  Rows stream_rows, key_rows, xid_rows;
  std::vector<Conn::Step> lock;
  lock.push_back(Conn::Step{"begin", "BEGIN", {}, nullptr});
  // The transaction's id, known before COMMIT is sent: should the answer to
  // COMMIT be lost, the server tells what became of it.
  lock.push_back(Conn::Step{"xid", "SELECT pg_current_xact_id()::text::int8", {}, &xid_rows});
  // Stream rows are never deleted: once seen, a stream needs no insert.
  bool all_known = std::all_of(s_hashes.begin(), s_hashes.end(),
                               [&](const std::string* h) { return known_streams_.count(*h); });
  if (!s_hashes.empty() && !all_known) {
    lock.push_back(Conn::Step{
        "insert_streams", kInsertStreams, {ByteaArrayParam(s_hashes), ByteaArrayParam(s_names)}});
  }
  if (!s_hashes.empty()) {
    lock.push_back(
        Conn::Step{"lock_streams", kLockStreams, {ByteaArrayParam(s_hashes)}, &stream_rows});
  }
  if (!k_hashes.empty()) {
    lock.push_back(Conn::Step{
        "lock_keys", kLockKeys, {ByteaArrayParam(k_hashes), ByteaArrayParam(k_names)}, &key_rows});
  }
  s = conn_.Pipeline(&lock);
  if (!s.ok()) return fail(s);

  struct StreamState {
    int64_t id;
    uint64_t hwm;
    uint64_t upto = 0;  // truncated through, this group
  };
  std::map<std::string, StreamState> streams;  // by name
  for (int r = 0; r < stream_rows.size(); ++r) {
    auto it = stream_by_hash.find(stream_rows.Bytes(r, 0));
    if (it == stream_by_hash.end()) continue;
    streams[*it->second] =
        StreamState{stream_rows.Int8(r, 1), static_cast<uint64_t>(stream_rows.Int8(r, 2)), 0};
  }
  std::map<std::string, std::optional<std::string>> keys;  // by name: value or absent
  for (int r = 0; r < key_rows.size(); ++r) {
    auto it = key_by_hash.find(key_rows.Bytes(r, 0));
    if (it == key_by_hash.end()) continue;
    keys[*it->second] = key_rows.IsNull(r, 1) ? std::nullopt : std::optional(key_rows.Bytes(r, 1));
  }
  if (xid_rows.size() != 1 || streams.size() != stream_hash.size() ||
      keys.size() != key_hash.size()) {
    // Rows deleted behind this process's back: forget what it knew, try again.
    bool knew = !known_streams_.empty();
    known_streams_.clear();
    Status st =
        fail(Status::Corruption(conn_.where() + ": locking returned fewer rows than asked"));
    *retry = knew;
    return st;
  }

  std::map<std::string, std::optional<std::string>> keys_before = keys;
  std::map<std::string, uint64_t> hwm_before;
  for (const auto& [name, st] : streams) hwm_before[name] = st.hwm;

  if (opt_.test_hook) opt_.test_hook("locked");

  // Check the batches in order against the state earlier accepted ones leave.
  struct Appended {
    const std::string* stream;
    uint64_t seq;
    const std::string* payload;
  };
  std::vector<Appended> appended;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (!valid[i]) continue;
    auto saved_streams = streams;
    auto saved_keys = keys;
    size_t saved_appended = appended.size();
    Status bs;
    for (const WriteBatch::Op& op : batches[i]->ops()) {
      switch (op.kind) {
        case WriteBatch::OpKind::kAppend:
        case WriteBatch::OpKind::kAppendExpect: {
          StreamState& st = streams[op.name];
          if (op.kind == WriteBatch::OpKind::kAppendExpect && st.hwm != op.expected_seq) {
            bs = Status::Conflict("append to stream " + Quote(op.name) + ": expected last seq " +
                                      std::to_string(op.expected_seq) + " but it is " +
                                      std::to_string(st.hwm),
                                  op.expected_seq, st.hwm);
          } else if (op.seq <= st.hwm) {
            bs = Status::Conflict("append to stream " + Quote(op.name) + ": seq " +
                                      std::to_string(op.seq) +
                                      " is not above the high-water mark " + std::to_string(st.hwm),
                                  st.hwm + 1, st.hwm);
          } else {
            st.hwm = op.seq;
            appended.push_back(Appended{&op.name, op.seq, &*op.value});
          }
          break;
        }
        case WriteBatch::OpKind::kKvPut:
        case WriteBatch::OpKind::kKvDelete:
        case WriteBatch::OpKind::kKvCas: {
          std::optional<std::string>& cur = keys[op.name];
          if (op.kind == WriteBatch::OpKind::kKvCas && cur != op.expected) {
            const char* why = !cur           ? "the key is absent"
                              : !op.expected ? "the key is present"
                                             : "the value differs from the expected one";
            bs = Status::Conflict("kv-cas on key " + Quote(op.name) + ": " + why);
            break;
          }
          if (op.kind != WriteBatch::OpKind::kKvDelete && op.value) {
            cur = *op.value;
          } else {
            cur.reset();
          }
          break;
        }
        case WriteBatch::OpKind::kTruncate: {
          StreamState& st = streams[op.name];
          st.upto = std::max(st.upto, std::min(op.seq, st.hwm));
          break;
        }
      }
      if (!bs.ok()) break;
    }
    if (!bs.ok()) {
      streams = std::move(saved_streams);
      keys = std::move(saved_keys);
      appended.resize(saved_appended);
    }
    (*results)[i] = bs;
  }

  // The writes: events not dropped by a truncation later in the group,
  // raised hwms, truncations, changed keys.
  std::vector<int64_t> ev_stream, ev_seq, hwm_id, hwm_val, tr_id, tr_upto;
  std::vector<const std::string*> ev_payload, put_hash, put_value, del_hash;
  for (const Appended& a : appended) {
    const StreamState& st = streams[*a.stream];
    if (a.seq <= st.upto) continue;
    ev_stream.push_back(st.id);
    ev_seq.push_back(static_cast<int64_t>(a.seq));
    ev_payload.push_back(a.payload);
  }
  for (const auto& [name, st] : streams) {
    if (st.hwm != hwm_before[name]) {
      hwm_id.push_back(st.id);
      hwm_val.push_back(static_cast<int64_t>(st.hwm));
    }
    if (st.upto > 0) {
      tr_id.push_back(st.id);
      tr_upto.push_back(static_cast<int64_t>(st.upto));
    }
  }
  bool kv_changed = false;
  for (const auto& [name, value] : keys) {
    const std::optional<std::string>& before = keys_before[name];
    kv_changed |= value != before;
    if (value) {
      if (value != before) {
        put_hash.push_back(&key_hash[name]);
        put_value.push_back(&*value);
      }
    } else {
      del_hash.push_back(&key_hash[name]);  // deleted, or a lock row to drop
    }
  }
  bool changed = !ev_seq.empty() || !hwm_id.empty() || !tr_id.empty() || kv_changed;
  if (!changed) {
    s = conn_.Exec("ROLLBACK");  // only lock rows were made; drop them
    return s.ok() ? s : fail(s);
  }
  // One round trip: the writes, COMMIT, and the wake-up for followers in an
  // implicit transaction of its own after the COMMIT.
  std::vector<Conn::Step> commit;
  std::string token = NewToken();
  if (tr_id.empty() && put_hash.empty() && del_hash.empty()) {
    commit.push_back(
        Conn::Step{"write_appends",
                   kWriteAppends,
                   {Int8ArrayParam(ev_stream), Int8ArrayParam(ev_seq), ByteaArrayParam(ev_payload),
                    Int8ArrayParam(hwm_id), Int8ArrayParam(hwm_val), ByteaParam(token)},
                   nullptr});
  } else {
    commit.push_back(
        Conn::Step{"write",
                   kWrite,
                   {Int8ArrayParam(ev_stream), Int8ArrayParam(ev_seq), ByteaArrayParam(ev_payload),
                    Int8ArrayParam(hwm_id), Int8ArrayParam(hwm_val), Int8ArrayParam(tr_id),
                    Int8ArrayParam(tr_upto), ByteaArrayParam(put_hash), ByteaArrayParam(put_value),
                    ByteaArrayParam(del_hash), ByteaParam(token)},
                   nullptr});
  }
  commit.push_back(Conn::Step{"commit", "COMMIT", {}, nullptr});
  // At most one wake-up per kNotifyEveryMs from this process: every notify
  // takes a server-wide lock at its commit, and a follower woken by one
  // reads every commit below the fence anyway (and looks every 50 ms).
  Clock::time_point now = Clock::now();
  if (now - last_notify_ >= std::chrono::milliseconds(kNotifyEveryMs)) {
    last_notify_ = now;
    commit.push_back(
        Conn::Step{"notify", "SELECT pg_notify($1, '')", {TextParam(Channel())}, nullptr});
  }
  if (opt_.test_hook && opt_.test_hook("commit")) {
    conn_.Close();  // as if the connection broke while COMMIT was on its way
    s = Status::IOError(conn_.where() + ": connection closed before COMMIT");
  } else {
    s = conn_.Pipeline(&commit);
  }
  if (!s.ok() && !conn_.broken()) return fail(s);  // rolled back (or to roll back)
  bool lost = !s.ok() && conn_.broken();
  if (s.ok() && opt_.test_hook && opt_.test_hook("committed")) {
    conn_.Close();
    lost = true;
  }
  if (lost) {
    // The answer is lost: the server knows whether the transaction committed.
    ++stats_read_backs_;
    bool committed = false;
    Status rb = ReadBack(xid_rows.Int8(0, 0), token, &committed);
    if (!rb.ok()) {
      *retry = false;
      return Status::IOError(conn_.where() +
                             ": connection lost during COMMIT and the outcome could not be read "
                             "back: " +
                             rb.message());
    }
    if (!committed) return s.ok() ? Status::IOError("commit answer lost; not committed") : s;
    s = Status::OK();
  }
  ++stats_commits_;
  // Committed: every stream of the group has its row for good.
  if (known_streams_.size() > kMaxKnownStreams) known_streams_.clear();
  for (const auto& [name, h] : stream_hash) known_streams_.insert(h);
  return Status::OK();
}

Status PgBackend::ReadBack(int64_t xid, const std::string& token, bool* committed) {
  Clock::time_point give_up = Clock::now() + std::chrono::milliseconds(opt_.retry_ms);
  int backoff_ms = 10;
  for (;;) {
    Status s = conn_.Reconnect();
    if (s.ok()) s = AfterConnect();
    Rows rows;
    if (s.ok()) {
      s = conn_.Run("read_back", "SELECT pg_xact_status($1::text::xid8)",
                    {TextParam(std::to_string(xid))}, &rows);
    }
    // A transaction id the server has not reached: after a crash the server
    // hands out ids again from the last one its log holds, so the lost
    // transaction never wrote a commit record (which would have carried the
    // counter past it). It did not commit.
    if (!s.ok() && !conn_.broken() && s.ToString().find("is in the future") != std::string::npos) {
      *committed = false;
      return Status::OK();
    }
    // "in progress": the old session has not ended yet; look again.
    std::string status = s.ok() && rows.size() && !rows.IsNull(0, 0) ? rows.Bytes(0, 0) : "";
    if (status == "aborted") {
      *committed = false;
      return Status::OK();
    }
    if (status == "committed") {
      // Ours only if its commits row holds our token: after a crash the id
      // may have gone to a newer transaction, whose status this is.
      Rows mine;
      s = conn_.Run("read_back_token",
                    "SELECT count(*) FROM commits WHERE xid = $1::text::xid8 AND token = $2",
                    {TextParam(std::to_string(xid)), ByteaParam(token)}, &mine);
      if (s.ok()) {
        *committed = mine.Int8(0, 0) == 1;
        return Status::OK();
      }
    }
    if (s.ok() && status != "in progress") {
      return Status::IOError(conn_.where() + ": transaction " + std::to_string(xid) +
                             " has no status on the server");
    }
    if (Clock::now() >= give_up) {
      return s.ok() ? Status::IOError(conn_.where() + ": transaction " + std::to_string(xid) +
                                      " is still in progress")
                    : s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 500);
  }
}

Status PgBackend::BlobPut(const std::string& bytes, std::string* cid) {
  *cid = store::CidForBytes(bytes);
  bool has = false;
  Status s = BlobHas(*cid, &has);
  if (!s.ok() || has) return s;
  s = Ensure();
  if (s.ok()) s = conn_.Exec("BEGIN");
  Rows rows;
  if (s.ok()) {
    s = conn_.Run("blob_put",
                  "INSERT INTO blobs (cid, size) VALUES ($1, $2) ON CONFLICT DO NOTHING "
                  "RETURNING 1",
                  {TextParam(*cid), Int8Param(static_cast<int64_t>(bytes.size()))}, &rows);
  }
  // Another writer stored it first when no row came back: stored once.
  for (size_t at = 0, n = 0; s.ok() && rows.size() > 0 && (at < bytes.size() || n == 0);
       at += kBlobChunkBytes, ++n) {
    s = conn_.Run("blob_chunk", "INSERT INTO blob_chunks (cid, n, bytes) VALUES ($1, $2, $3)",
                  {TextParam(*cid), Int8Param(static_cast<int64_t>(n)),
                   ByteaParam(std::string_view(bytes).substr(at, kBlobChunkBytes))},
                  nullptr);
  }
  if (s.ok()) s = conn_.Exec("COMMIT");
  if (!s.ok() && !conn_.broken()) conn_.Exec("ROLLBACK").IgnoreError();
  // A lost COMMIT is decided by looking: a retried put is harmless.
  if (!s.ok() && conn_.broken() && BlobHas(*cid, &has).ok() && has) return Status::OK();
  return s.ok() ? s : s.WithContext("blob-put");
}

Status PgBackend::BlobGet(const std::string& cid, std::string* bytes) {
  store::Sha256::Digest want;
  if (!store::ParseRawSha256Cid(cid, &want)) {
    return Status::InvalidArgument("blob-get: " + Quote(cid) +
                                   " is not a CIDv1 raw sha2-256 base32 cid");
  }
  Rows rows;
  Status s = Query("blob_get",
                   "SELECT b.size, c.bytes FROM blobs b LEFT JOIN blob_chunks c ON c.cid = b.cid "
                   "WHERE b.cid = $1 ORDER BY c.n",
                   {TextParam(cid)}, &rows);
  if (!s.ok()) return s;
  if (rows.size() == 0) return Status::NotFound("blob " + cid + " is absent");
  bytes->clear();
  bytes->reserve(static_cast<size_t>(rows.Int8(0, 0)));
  for (int i = 0; i < rows.size(); ++i) {
    if (!rows.IsNull(i, 1)) bytes->append(rows.Bytes(i, 1));
  }
  if (store::Sha256::Hash(*bytes) != want) {
    return Status::Corruption("blob " + cid + " does not match its hash");
  }
  return Status::OK();
}

Status PgBackend::WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) {
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    Status s = CommitPosition(position);
    if (!s.ok() || *position > seen) return s;
    Clock::time_point now = Clock::now();
    if (now >= deadline) return Status::OK();
    if (!listening_) {
      s = conn_.Exec("LISTEN " + conn_.QuoteIdent(Channel()));
      if (!s.ok()) return s;
      listening_ = true;
      continue;  // a commit may have landed before LISTEN took effect
    }
    // A notification is a hint; a commit can also become visible without one
    // (an older transaction ended), so wake at least every 50 ms to look.
    int wait = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    conn_.Wait(POLLIN, std::min(wait, 50));
    PQconsumeInput(conn_.raw());
    while (PGnotify* n = PQnotifies(conn_.raw())) PQfreemem(n);
  }
}

Status PgBackend::ReadCommitted(uint64_t after, size_t limit, std::vector<CommittedEvent>* out,
                                uint64_t* position) {
  out->clear();
  uint64_t upto = 0;
  Status s = CommitPosition(&upto);
  if (!s.ok()) return s;
  const char* sql =
      "SELECT e.xid::text::int8, s.name, e.seq, e.payload FROM events e "
      "JOIN streams s ON s.id = e.stream_id "
      "WHERE e.xid > $1::text::xid8 AND e.xid <= $2::text::xid8 "
      "ORDER BY e.xid, e.stream_id, e.seq LIMIT $3";
  Rows rows;
  int64_t lim = static_cast<int64_t>(std::min<uint64_t>(limit, kMaxSeq));
  s = Query("read_committed", sql,
            {TextParam(std::to_string(after)), TextParam(std::to_string(upto)), Int8Param(lim)},
            &rows);
  if (!s.ok()) return s;
  for (int i = 0; i < rows.size(); ++i) {
    out->push_back(CommittedEvent{static_cast<uint64_t>(rows.Int8(i, 0)), rows.Bytes(i, 1),
                                  static_cast<uint64_t>(rows.Int8(i, 2)), rows.Bytes(i, 3)});
  }
  *position = upto;
  if (limit > 0 && out->size() == limit) {
    // Cut at a commit's edge so the next read starts at a whole commit.
    uint64_t last = out->back().position;
    if (out->front().position == last) {
      // One commit larger than the limit: return all of it.
      s = Query("read_committed", sql,
                {TextParam(std::to_string(last - 1)), TextParam(std::to_string(last)),
                 Int8Param(std::numeric_limits<int64_t>::max())},
                &rows);
      if (!s.ok()) return s;
      out->clear();
      for (int i = 0; i < rows.size(); ++i) {
        out->push_back(CommittedEvent{static_cast<uint64_t>(rows.Int8(i, 0)), rows.Bytes(i, 1),
                                      static_cast<uint64_t>(rows.Int8(i, 2)), rows.Bytes(i, 3)});
      }
      *position = last;
    } else {
      while (out->back().position == last) out->pop_back();
      *position = out->back().position;
    }
  }
  return Status::OK();
}

}  // namespace

int LatestSchemaVersion() {
  int v = 0;
  for (const Migration* m = Migrations(); m->sql; ++m) v = std::max(v, m->version);
  return v;
}

Status OpenPostgres(const PgOptions& options, std::unique_ptr<backend::Backend>* out) {
  auto b = std::make_unique<PgBackend>(options);
  Status s = b->Open();
  if (!s.ok()) return s;
  *out = std::move(b);
  return Status::OK();
}

Status OpenPostgres(const std::string& url, std::unique_ptr<backend::Backend>* out) {
  PgOptions options;
  options.url = url;
  return OpenPostgres(options, out);
}

Status ReadCommitted(backend::Backend* backend, uint64_t after, size_t limit,
                     std::vector<CommittedEvent>* out, uint64_t* position) {
  auto* pg = dynamic_cast<PgBackend*>(backend);
  if (pg == nullptr) return Status::InvalidArgument("ReadCommitted needs a PostgreSQL backend");
  return pg->ReadCommitted(after, limit, out, position);
}

}  // namespace sx::pg
