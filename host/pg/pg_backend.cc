#include "host/pg/pg_backend.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>

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
// A follower looks for commits every kIdlePollMs, and every kBusyPollMs
// for kBusyMs after a wake-up or a new commit: a writer sends at most one
// wake-up per kNotifyEveryMs, so a commit right after another may have none.
constexpr int kIdlePollMs = 50;
constexpr int kBusyPollMs = 5;
constexpr int kBusyMs = 250;
// A follower that waits holds a lease in the followers table (migration
// 006), renewed every kFollowerBeatMs while it waits; a writer sends
// wake-ups only while a lease is current, and looks whether one is every
// PgOptions::followers_check_ms.
constexpr int kFollowerBeatMs = 5000;
// Writers learn of a new follower within a second (the default
// followers_check_ms); until then it looks every kBusyPollMs.
constexpr int kFollowerLearnMs = 1250;
#define SX_PG_FOLLOWER_LEASE "interval '15 seconds'"
constexpr size_t kMaxKnownStreams = 100000;
// Streams with longer names are not remembered: their groups take the long
// way, and the memory for remembered names stays small.
constexpr size_t kMaxKnownNameBytes = 256;
// append_remembered (migrations 004, 007) raises this when a stream's row hwm
// moved.
constexpr char kStaleState[] = "SX001";
// An insert found its key taken; on events_pkey, on the short way, another
// writer appended at the remembered mark + 1.
constexpr char kUniqueViolation[] = "23505";
// After the short way found a stream moved, the next groups take the long way.
constexpr int kShortWaySkip = 8;
constexpr uint64_t kMaxSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::string HashOf(const std::string& name) {
  store::Sha256::Digest d = store::Sha256::Hash(name);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// An advisory lock key: the first 8 bytes of a name's sha256 mixed with a
// salt for the schema and the kind of name (stream or key). Names of other
// schemas or kinds whose keys collide only make two writers wait in turn.
int64_t LockKey(const std::string& hash, uint64_t salt) {
  uint64_t k = 0;
  std::memcpy(&k, hash.data(), sizeof k);
  return static_cast<int64_t>(k ^ salt);
}

uint64_t Salt(const std::string& what) {
  uint64_t k = 0;
  std::memcpy(&k, HashOf(what).data(), sizeof k);
  return k;
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

// SQLSTATEs after which the whole transaction can simply run again. 26000
// (no such prepared statement): a group sent behind another used the
// statements that one was preparing, and its prepare did not run (that
// group failed first); run again, the group prepares them itself.
bool Retryable(const std::string& sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "26000" || sqlstate.rfind("08", 0) == 0;
}

// --- statements -------------------------------------------------------------

// A stream's high-water mark, the largest seq it ever held, for a streams row
// named s. Appends leave the row alone (an update per stream and group cost
// more than the appends); a truncation raises the row's hwm before it
// deletes, so the mark is the greater of the row's hwm and the largest stored
// seq, the last entry of the stream in the events' primary key.
#define SX_PG_HWM_OF_S \
  "greatest(s.hwm, coalesce((SELECT max(e.seq) FROM events e WHERE e.stream_id = s.id), 0))"
// Whether the stream of row s holds or held an event.
#define SX_PG_HAS_SEQS_S "(s.hwm > 0 OR EXISTS (SELECT 1 FROM events e WHERE e.stream_id = s.id))"

// Creates the rows of streams not seen before, in name-hash order (the
// NOT EXISTS spares the identity sequence for streams that exist).
const char kInsertStreams[] =
    "INSERT INTO streams (name_hash, name) "
    "SELECT h, n FROM unnest($1::bytea[], $2::bytea[]) AS u(h, n) "
    "WHERE NOT EXISTS (SELECT 1 FROM streams WHERE name_hash = u.h) ORDER BY h "
    "ON CONFLICT (name_hash) DO NOTHING";

// Takes the advisory lock of every stream and key of a group, in the order
// of the array (the caller sorts it): every writer takes its locks in one
// global order, so two groups never wait on each other in a cycle. The lock
// is held to the end of the transaction; a lock in memory costs far less
// than a row lock, which writes the row.
const char kLock[] = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k";

// The streams' rows and the keys' values, read under those locks: each
// statement reads the newest committed state, and the previous holder of a
// lock committed before it let go.
const char kReadStreams[] =
    "SELECT name_hash, id, " SX_PG_HWM_OF_S " FROM streams s WHERE name_hash = ANY($1::bytea[])";
const char kReadKeys[] =
    "SELECT key_hash, value FROM kv WHERE key_hash = ANY($1::bytea[]) AND value IS NOT NULL";

// Every write of the accepted batches, and the commit's row, in one statement.
// The events inserted here are not seen by the DELETE of the same statement:
// the caller leaves out appended events that a later truncation drops.
const char kWrite[] =
    "WITH ins AS (INSERT INTO events (stream_id, seq, payload) "
    "    SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])), "
    "  tr AS (SELECT * FROM unnest($4::int8[], $5::int8[], $6::int8[]) AS t(id, hwm, upto)), "
    "  hwm AS (UPDATE streams AS s SET hwm = greatest(s.hwm, tr.hwm) FROM tr WHERE s.id = tr.id), "
    "  trunc AS (DELETE FROM events AS e USING tr WHERE e.stream_id = tr.id AND e.seq <= tr.upto), "
    "  kput AS (INSERT INTO kv AS k (key_hash, key, value) "
    "    SELECT * FROM unnest($7::bytea[], $8::bytea[], $9::bytea[]) "
    "    ON CONFLICT (key_hash) DO UPDATE SET value = excluded.value), "
    "  kdel AS (DELETE FROM kv WHERE key_hash = ANY($10::bytea[])) "
    "INSERT INTO commits (token, stream_ids, first_seqs, last_seqs) "
    "VALUES ($11, $12::int8[], $13::int8[], $14::int8[])";

// The same for a group of appends only (the common case): the events and
// the commit's row.
const char kWriteAppends[] =
    "WITH ins AS (INSERT INTO events (stream_id, seq, payload) "
    "    SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])) "
    "INSERT INTO commits (token, stream_ids, first_seqs, last_seqs) "
    "VALUES ($4, $5::int8[], $6::int8[], $7::int8[])";

// The oldest xid running: no transaction started later gets a smaller one.
#define SX_PG_XID_FLOOR "pg_snapshot_xmin(pg_current_snapshot())::text::int8"

// The followers' position: the newest commit below the oldest running xid.
const char kPosition[] =
    "SELECT coalesce(max(xid)::text, '0')::int8 FROM commits "
    "WHERE xid < pg_snapshot_xmin(pg_current_snapshot())";

// The state a group is checked against, by name: each stream's row id and
// mark (and how far the group truncates it), each key's value or absence.
struct GroupState {
  struct Stream {
    int64_t id;
    uint64_t hwm;
    uint64_t upto = 0;    // truncated through, this group
    bool jumped = false;  // an append of this group skipped seqs
  };
  std::map<std::string, Stream> streams;
  std::map<std::string, std::optional<std::string>> keys;
};

// An accepted append; the pointers are into the group's batches.
struct Appended {
  const std::string* stream;
  uint64_t seq;
  const std::string* payload;
};

bool IsKeyOp(WriteBatch::OpKind kind) {
  return kind == WriteBatch::OpKind::kKvPut || kind == WriteBatch::OpKind::kKvDelete ||
         kind == WriteBatch::OpKind::kKvCas;
}

// Checks the batches in order against the state earlier accepted ones leave,
// exactly as the embedded store does: a refused batch gets its Conflict in
// results and leaves the state as it was. Fills appended.
void CheckBatches(std::span<const WriteBatch* const> batches, const std::vector<bool>& valid,
                  GroupState* state, std::vector<Status>* results,
                  std::vector<Appended>* appended) {
  // What a batch changed, as it was, to put back when the batch is refused.
  std::vector<std::pair<GroupState::Stream*, GroupState::Stream>> stream_undo;
  std::vector<std::pair<std::optional<std::string>*, std::optional<std::string>>> key_undo;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (!valid[i]) continue;
    stream_undo.clear();
    key_undo.clear();
    size_t saved_appended = appended->size();
    Status bs;
    for (const WriteBatch::Op& op : batches[i]->ops()) {
      switch (op.kind) {
        case WriteBatch::OpKind::kAppend:
        case WriteBatch::OpKind::kAppendExpect: {
          GroupState::Stream& st = state->streams[op.name];
          stream_undo.emplace_back(&st, st);
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
            st.jumped |= op.seq > st.hwm + 1;
            st.hwm = op.seq;
            appended->push_back(Appended{&op.name, op.seq, &*op.value});
          }
          break;
        }
        case WriteBatch::OpKind::kKvPut:
        case WriteBatch::OpKind::kKvDelete:
        case WriteBatch::OpKind::kKvCas: {
          std::optional<std::string>& cur = state->keys[op.name];
          key_undo.emplace_back(&cur, cur);
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
          GroupState::Stream& st = state->streams[op.name];
          stream_undo.emplace_back(&st, st);
          st.upto = std::max(st.upto, std::min(op.seq, st.hwm));
          break;
        }
      }
      if (!bs.ok()) break;
    }
    if (!bs.ok()) {
      for (auto it = stream_undo.rbegin(); it != stream_undo.rend(); ++it) *it->first = it->second;
      for (auto it = key_undo.rbegin(); it != key_undo.rend(); ++it) {
        *it->first = std::move(it->second);
      }
      appended->resize(saved_appended);
    }
    (*results)[i] = bs;
  }
}

// The rows of the accepted appends a group writes: those a truncation of
// the same group does not take away.
struct EventRows {
  std::vector<int64_t> stream, seq;
  std::vector<const std::string*> payload;
};

EventRows RowsOf(const GroupState& after, const std::vector<Appended>& appended) {
  EventRows ev;
  for (const Appended& a : appended) {
    const GroupState::Stream& st = after.streams.at(*a.stream);
    if (a.seq <= st.upto) continue;
    ev.stream.push_back(st.id);
    ev.seq.push_back(static_cast<int64_t>(a.seq));
    ev.payload.push_back(a.payload);
  }
  return ev;
}

// Adds to *params the commit row's account of those rows, by which
// followers read them: per stream, by id, the first and the last seq
// written (a group's appends to a stream are consecutive seqs).
void AddRanges(const EventRows& ev, std::vector<Param>* params) {
  std::vector<std::pair<int64_t, int64_t>> rows;  // (stream id, seq)
  rows.reserve(ev.seq.size());
  for (size_t i = 0; i < ev.seq.size(); ++i) rows.emplace_back(ev.stream[i], ev.seq[i]);
  std::sort(rows.begin(), rows.end());
  std::vector<int64_t> ids, firsts, lasts;
  for (const auto& [id, seq] : rows) {
    if (ids.empty() || ids.back() != id) {
      ids.push_back(id);
      firsts.push_back(seq);
      lasts.push_back(seq);
    } else {
      lasts.back() = seq;  // sorted: the largest so far
    }
  }
  params->push_back(Int8ArrayParam(ids));
  params->push_back(Int8ArrayParam(firsts));
  params->push_back(Int8ArrayParam(lasts));
}

// The statement that writes a checked group: its events but those a later
// truncation in the group drops, the truncations with the marks they keep,
// the changed keys, and the commit's row with its token and ranges, added to
// *steps. A group that raises a row hwm first takes a number from
// marks_moved (migration 007), under the locks of the streams it raises.
// False when the group changes nothing.
bool WriteSteps(const std::map<std::string, std::string>& key_hash, const GroupState& before,
                const GroupState& after, const std::vector<Appended>& appended,
                const std::string& token, std::vector<Conn::Step>* steps) {
  EventRows ev = RowsOf(after, appended);
  std::vector<int64_t> tr_id, tr_hwm, tr_upto;
  std::vector<const std::string*> put_hash, put_name, put_value, del_hash;
  // Truncated streams, and those whose seqs jumped: the row hwm is raised to
  // the mark, so that the stored seqs above it run without a gap (the short
  // way's check relies on it).
  for (const auto& [name, st] : after.streams) {
    if (st.upto == 0 && !st.jumped) continue;
    tr_id.push_back(st.id);
    tr_hwm.push_back(static_cast<int64_t>(st.hwm));
    tr_upto.push_back(static_cast<int64_t>(st.upto));
  }
  for (const auto& [name, value] : after.keys) {
    auto b = before.keys.find(name);
    if (b != before.keys.end() && value == b->second) continue;
    if (value) {
      put_hash.push_back(&key_hash.at(name));
      put_name.push_back(&name);
      put_value.push_back(&*value);
    } else {
      del_hash.push_back(&key_hash.at(name));
    }
  }
  if (ev.seq.empty() && tr_id.empty() && put_hash.empty() && del_hash.empty()) return false;
  if (!tr_id.empty()) {
    steps->push_back(Conn::Step{"marks_moved", "SELECT nextval('marks_moved')", {}, nullptr});
  }
  Conn::Step* out = &steps->emplace_back();
  if (tr_id.empty() && put_hash.empty() && del_hash.empty()) {
    *out = Conn::Step{"write_appends",
                      kWriteAppends,
                      {Int8ArrayParam(ev.stream), Int8ArrayParam(ev.seq),
                       ByteaArrayParam(ev.payload), ByteaParam(token)},
                      nullptr};
  } else {
    *out =
        Conn::Step{"write",
                   kWrite,
                   {Int8ArrayParam(ev.stream), Int8ArrayParam(ev.seq), ByteaArrayParam(ev.payload),
                    Int8ArrayParam(tr_id), Int8ArrayParam(tr_hwm), Int8ArrayParam(tr_upto),
                    ByteaArrayParam(put_hash), ByteaArrayParam(put_name),
                    ByteaArrayParam(put_value), ByteaArrayParam(del_hash), ByteaParam(token)},
                   nullptr};
  }
  AddRanges(ev, &out->params);
  return true;
}

class PgBackend final : public backend::Backend {
 public:
  explicit PgBackend(PgOptions options) : opt_(std::move(options)) {}

  Status Open() {
    stream_salt_ = Salt("sx stream lock " + opt_.schema);
    key_salt_ = Salt("sx key lock " + opt_.schema);
    Status s = conn_.Connect(opt_.url);
    if (!s.ok()) return s;
    return Migrate();
  }

  const char* kind() const override { return "postgres"; }

  void CommitGroup(std::span<const WriteBatch* const> batches,
                   std::vector<Status>* results) override;

  Status Read(const std::string& stream, uint64_t from_seq, size_t limit,
              std::vector<Event>* out) override {
    Exclusive x(this);
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
    shared_->records_read += out->size();
    return Status::OK();
  }

  Status LastSeq(const std::string& stream, uint64_t* seq) override {
    Exclusive x(this);
    Rows rows;
    Status s = Query("last_seq", "SELECT " SX_PG_HWM_OF_S " FROM streams s WHERE name_hash = $1",
                     {ByteaParam(HashOf(stream))}, &rows);
    if (!s.ok()) return s;
    *seq = rows.size() ? static_cast<uint64_t>(rows.Int8(0, 0)) : 0;
    return Status::OK();
  }

  Status LastSeqs(const std::vector<std::string>& streams, std::vector<uint64_t>* seqs) override {
    Exclusive x(this);
    std::vector<std::string> hashes;
    hashes.reserve(streams.size());
    for (const std::string& name : streams) hashes.push_back(HashOf(name));
    std::vector<const std::string*> params;
    for (const std::string& h : hashes) params.push_back(&h);
    Rows rows;
    Status s = Query("last_seqs",
                     "SELECT s.name_hash, " SX_PG_HWM_OF_S
                     " FROM streams s WHERE s.name_hash = ANY($1::bytea[])",
                     {ByteaArrayParam(params)}, &rows);
    if (!s.ok()) return s;
    std::unordered_map<std::string, uint64_t> by_hash;
    for (int i = 0; i < rows.size(); ++i) {
      by_hash[rows.Bytes(i, 0)] = static_cast<uint64_t>(rows.Int8(i, 1));
    }
    seqs->assign(streams.size(), 0);  // a stream without a row: never appended to
    for (size_t i = 0; i < hashes.size(); ++i) {
      auto it = by_hash.find(hashes[i]);
      if (it != by_hash.end()) (*seqs)[i] = it->second;
    }
    return Status::OK();
  }

  Status FirstSeq(const std::string& stream, uint64_t* seq) override {
    Exclusive x(this);
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
    Exclusive x(this);
    return Names("streams", "SELECT name FROM streams s WHERE " SX_PG_HAS_SEQS_S, out);
  }

  Status KvGet(const std::string& key, std::string* value) override {
    Exclusive x(this);
    Rows rows;
    Status s = Query("kv_get", "SELECT value FROM kv WHERE key_hash = $1 AND value IS NOT NULL",
                     {ByteaParam(HashOf(key))}, &rows);
    if (!s.ok()) return s;
    if (rows.size() == 0) return Status::NotFound("key " + Quote(key) + " is absent");
    *value = rows.Bytes(0, 0);
    return Status::OK();
  }

  Status KvHas(const std::string& key, bool* has) override {
    Exclusive x(this);
    Rows rows;
    Status s = Query("kv_has", "SELECT 1 FROM kv WHERE key_hash = $1 AND value IS NOT NULL",
                     {ByteaParam(HashOf(key))}, &rows);
    if (s.ok()) *has = rows.size() > 0;
    return s;
  }

  Status KvKeys(std::vector<std::string>* out) override {
    Exclusive x(this);
    return Names("kv_keys", "SELECT key FROM kv WHERE value IS NOT NULL", out);
  }

  Status BlobPut(const std::string& bytes, std::string* cid) override;
  Status BlobGet(const std::string& cid, std::string* bytes) override;
  Status BlobHas(const std::string& cid, bool* has) override {
    Exclusive x(this);
    return BlobHasNow(cid, has);
  }
  Status BlobHasNow(const std::string& cid, bool* has) {
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

  // Drops the rows that stood for absent keys, the commit rows older than a
  // day whose events are all gone (but the newest: the position needs it),
  // and the leases of followers that stopped; the server's autovacuum
  // reclaims the space.
  Status Compact() override {
    Exclusive x(this);
    Status s = Query("compact_kv", "DELETE FROM kv WHERE value IS NULL", {}, nullptr);
    if (s.ok()) {
      // A commit row is how followers reach its events: it goes only once
      // truncations took every one of them.
      s = Query("compact_commits",
                "DELETE FROM commits c WHERE at < now() - interval '1 day' "
                "AND xid < (SELECT max(xid) FROM commits) AND NOT EXISTS ("
                "  SELECT 1 FROM unnest(c.stream_ids, c.first_seqs, c.last_seqs) AS r(id, f, l) "
                "  JOIN events e ON e.stream_id = r.id AND e.seq BETWEEN r.f AND r.l)",
                {}, nullptr);
    }
    // The leases of followers that stopped (or crashed) without renewing.
    if (s.ok()) {
      s = Query("compact_followers", "DELETE FROM followers WHERE until < now()", {}, nullptr);
    }
    return s;
  }

  Status GetStats(Stats* out) override {
    Exclusive x(this);
    Rows rows;
    Status s = Query("stats",
                     "SELECT (SELECT count(*) FROM events), "
                     "(SELECT count(*) FROM streams s WHERE " SX_PG_HAS_SEQS_S
                     "), "
                     "(SELECT count(*) FROM kv WHERE value IS NOT NULL), "
                     "(SELECT count(*) FROM blobs), "
                     "(SELECT coalesce(sum(size), 0)::int8 FROM blobs)",
                     {}, &rows);
    if (!s.ok()) return s;
    out->clear();
    const char* names[] = {"events", "streams", "kv-keys", "blobs", "blob-bytes"};
    for (int i = 0; i < 5; ++i) out->emplace_back(names[i], rows.Int8(0, i));
    out->emplace_back("appends", shared_->appends);
    out->emplace_back("records-read", shared_->records_read);
    out->emplace_back("commits", shared_->commits);
    out->emplace_back("commit-retries", shared_->retries);
    out->emplace_back("commit-read-backs", shared_->read_backs);
    out->emplace_back("commits-one-trip", shared_->short_way);
    out->emplace_back("commits-overlapped", shared_->overlapped);
    out->emplace_back("one-trip-misses", shared_->short_way_misses);
    out->emplace_back("wake-ups", shared_->wake_ups);
    out->emplace_back("extra-connections", shared_->peers);
    out->emplace_back("extra-connection-failures", shared_->peer_failures);
    out->emplace_back("schema-version", LatestSchemaVersion());
    return Status::OK();
  }

  Status CommitPosition(uint64_t* position) override {
    Exclusive x(this);
    return CommitPositionNow(position);
  }
  Status CommitPositionNow(uint64_t* position) {
    Rows rows;
    Status s = Query("position", kPosition, {}, &rows);
    if (s.ok()) *position = static_cast<uint64_t>(rows.Int8(0, 0));
    return s;
  }

  Status WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) override;
  bool SeesOtherWriters() const override { return true; }
  Overlap overlap() const override { return opt_.one_round_trip ? opt_.overlap : Overlap::kOff; }
  bool MayJoin() const override { return flying_ > 0 && RoomForFlight(); }
  bool SetSocketWaiter(SocketWaiter waiter) override {
    conn_.set_waiter(std::move(waiter));
    return true;
  }
  Status OpenPeer(SocketWaiter waiter, std::unique_ptr<Backend>* out) override {
    // The schema is this handle's, opened and migrated already.
    auto peer = std::make_unique<PgBackend>(opt_);
    peer->stream_salt_ = stream_salt_;
    peer->key_salt_ = key_salt_;
    peer->shared_ = shared_;
    peer->conn_.set_waiter(std::move(waiter));
    Status s = peer->conn_.Connect(opt_.url);
    if (s.ok()) s = peer->AfterConnect();
    if (s.ok()) {
      ++shared_->peers;
      *out = std::move(peer);
    } else {
      ++shared_->peer_failures;  // the caller goes on with one connection
    }
    return s;
  }

  Status ReadCommitted(uint64_t after, size_t limit, std::vector<CommittedEvent>* out,
                       uint64_t* position);

 private:
  Status Migrate();
  // A statement that waits out a lost connection (a server restart, an
  // ended session) as a write does: it reconnects and runs again, with
  // backoff, for up to retry_ms. Reads change nothing, so running one again
  // is always safe.
  Status Query(const char* name, const char* sql, const std::vector<Param>& params, Rows* out) {
    Clock::time_point give_up = Clock::now() + std::chrono::milliseconds(opt_.retry_ms);
    int backoff_ms = 10;
    for (bool first = true;; first = false) {
      Status s = Ensure();
      if (s.ok()) s = conn_.Run(name, sql, params, out);
      bool again = conn_.broken() || Retryable(conn_.sqlstate());
      if (s.ok() || !again || Clock::now() >= give_up) return s;
      if (!first) {
        conn_.Sleep(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, 500);
      }
    }
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
    Rows rows;
    Status s = conn_.Run("session",
                         "SELECT set_config('search_path', $1, false), pg_backend_pid()::int8, "
                         "(SELECT backend_start::text FROM pg_stat_activity "
                         "WHERE pid = pg_backend_pid()), " SX_PG_XID_FLOOR,
                         {TextParam(conn_.QuoteIdent(opt_.schema))}, &rows);
    if (s.ok()) {
      session_.pid = rows.Int8(0, 1);
      session_.start = rows.IsNull(0, 2) ? "" : rows.Bytes(0, 2);
      session_.xid_floor = rows.Int8(0, 3);
    }
    return s;
  }
  // The streams and keys of a group, each once: name -> sha256 of the name.
  struct GroupNames {
    std::map<std::string, std::string> stream_hash, key_hash;
  };
  // What the lock statements point into.
  struct LockParams {
    std::vector<const std::string*> s_names, s_hashes, k_hashes;
    std::vector<int64_t> keys;
  };
  // A stream this process has written: its row's id, its mark after this
  // process's last commit to it, and its name's hash.
  struct Known {
    int64_t id;
    uint64_t hwm;
    std::string hash;
    uint64_t group = 0;  // the short way's try that last looked at it
    uint64_t next = 0;   // the mark that try's appends leave
    // The marks_moved number the short way last checked its row hwm at
    // (migration 007); -1 until it has.
    int64_t checked_at = -1;
  };
  using KnownStreams = std::unordered_map<std::string, Known>;
  // What the handles of one process share (OpenPeer): the streams it knows
  // and its counters. Handles run on one thread; one handle's work may
  // park while another's runs, so none keeps a pointer into `known` across
  // a round trip.
  struct Shared {
    KnownStreams known;         // by name
    uint64_t group = 0;         // tries at the short way, of every handle
    uint64_t appends = 0;       // by this process, as the other engines count them
    uint64_t records_read = 0;  // event rows Read returned to this process
    uint64_t commits = 0;
    uint64_t retries = 0;
    uint64_t read_backs = 0;
    uint64_t wake_ups = 0;
    uint64_t short_way = 0;         // commits that took one round trip
    uint64_t short_way_misses = 0;  // short ways that found a stream moved
    uint64_t overlapped = 0;        // groups sent while another was on the server
    uint64_t peers = 0;             // second handles opened (OpenPeer)
    uint64_t peer_failures = 0;     // and those that could not open
  };
  // A server session, named by its pid and start time (a pid is reused),
  // and an xid no transaction it starts from now on is below: the oldest
  // xid running when last looked (at connect, and with the look for
  // followers). A lost COMMIT's read-back searches the commits from there.
  struct Session {
    int64_t pid = 0;
    std::string start;
    int64_t xid_floor = 0;
  };

  // Takes the connection for this caller alone, once no flight is out and
  // nobody else has it; Release gives it back.
  void Acquire() {
    ++exclusive_waiting_;
    conn_.WaitUntil([this] { return !exclusive_ && flying_ == 0; });
    --exclusive_waiting_;
    exclusive_ = true;
  }
  void Release() {
    exclusive_ = false;
    conn_.Wake();
  }
  // The connection for one call.
  struct Exclusive {
    explicit Exclusive(PgBackend* b) : b(b) { b->Acquire(); }
    ~Exclusive() { b->Release(); }
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;
    PgBackend* b;
  };
  // What a group holds of the connection: nothing yet, a flight (others
  // may fly beside it), or all of it. It lets go as it ends.
  class Turn {
   public:
    explicit Turn(PgBackend* b) : b_(b) {}
    ~Turn() {
      Land();
      if (held_) b_->Release();
    }
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;
    bool flying() const { return flying_; }
    bool decided() const { return flying_ || held_; }
    void Fly(std::vector<std::string_view> streams) {
      for (std::string_view n : streams) ++b_->flying_streams_[n];
      ++b_->flying_;
      streams_ = std::move(streams);
      flying_ = true;
    }
    // Lands the flight, if any, and waits for the connection.
    void Hold() {
      if (held_) return;
      Land();
      b_->Acquire();
      held_ = true;
    }

   private:
    void Land() {
      if (!flying_) return;
      for (std::string_view n : streams_) {
        auto it = b_->flying_streams_.find(n);
        if (--it->second == 0) b_->flying_streams_.erase(it);
      }
      --b_->flying_;
      flying_ = false;
      b_->conn_.Wake();
    }
    PgBackend* b_;
    std::vector<std::string_view> streams_;
    bool flying_ = false;
    bool held_ = false;
  };
  static constexpr int kMaxFlights = 2;
  // Whether another flight may go now, as far as the handle goes: the short
  // way is on, nobody has the connection or waits for it, and fewer than
  // kMaxFlights are out.
  bool RoomForFlight() const {
    return opt_.one_round_trip && short_way_skip_ == 0 && !exclusive_ && exclusive_waiting_ == 0 &&
           flying_ < kMaxFlights;
  }
  // Whether the group may go as a flight now: the short way is on, the
  // connection is up and nobody has it or waits for it, fewer than
  // kMaxFlights are out, and every op appends to a stream this process
  // knows that no flight out touches. *streams: the group's streams.
  bool MayFly(std::span<const WriteBatch* const> batches, const std::vector<bool>& valid,
              std::vector<std::string_view>* streams);

  // One try at the group; *retry says whether running it again may succeed.
  // The first try decides how the group holds the connection (*turn).
  Status TryCommitGroup(std::span<const WriteBatch* const> batches, const std::vector<bool>& valid,
                        std::vector<Status>* results, bool* retry, Turn* turn);
  // The short way: when every batch of the group appends only to streams
  // this process remembers, each stream's appends running on from its
  // remembered mark + 1, every batch is accepted on those marks and the
  // group goes in one round trip. False, having sent nothing, when the group
  // does not qualify; otherwise *s is the outcome (results stay OK), and
  // *stale says that a stream had moved and nothing was written.
  bool ShortWay(std::span<const WriteBatch* const> batches, const std::vector<bool>& valid,
                Status* s, bool* retry, bool* stale, Turn* turn);
  // The advisory lock keys of a group's streams and keys, sorted: every
  // writer takes its locks in this one order.
  std::vector<int64_t> LockKeys(const GroupNames& names) const;
  // BEGIN, the insert of new stream rows, and the locks, in one sorted order.
  std::vector<Conn::Step> LockSteps(const GroupNames& names, bool insert_streams, LockParams* p);
  // The long way's first round trip: locks, then the state under them.
  Status LockAndRead(const GroupNames& names, GroupState* state, bool* retry);
  // The long way's second round trip: writes the change from before to
  // after and commits.
  Status SendGroup(const GroupNames& names, const GroupState& before, const GroupState& after,
                   const std::vector<Appended>& appended, bool* retry);
  // Sends a transaction's steps (all but COMMIT) with COMMIT and, while
  // someone follows, at most every kNotifyEveryMs, the wake-up; decides a
  // lost answer by reading back. *stale: append_remembered found a stream
  // moved; nothing was written.
  // A flight (turn) is sent as one and holds the connection once it fails.
  Status Commit(std::vector<Conn::Step>* steps, const std::string& token, bool* retry, bool* stale,
                Turn* turn = nullptr);
  // Rolls the transaction back, unless the connection is gone; s, with
  // *retry set from why it failed.
  Status Abandon(Status s, bool* retry);
  // Decides a COMMIT whose answer was lost: waits for the session that ran
  // it to end, then looks for the transaction's token. *committed or not.
  Status ReadBack(const Session& lost, const std::string& token, bool* committed);
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
  Clock::time_point last_notify_;
  // Whether a follower's lease was current when last looked (until the
  // first look: yes), and when that was.
  bool followers_ = true;
  Clock::time_point followers_checked_;
  std::string follower_id_;          // this handle's, once it follows
  Clock::time_point follower_beat_;  // when to renew its lease
  Clock::time_point busy_until_;     // a follower looks often until then
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  // Who has the connection (the host's lanes share a handle on fibers of
  // one thread): flights of the short way, up to kMaxFlights at once, each
  // to streams none of the others touches; or one caller alone.
  int flying_ = 0;
  std::unordered_map<std::string_view, int> flying_streams_;  // names, alive in their groups
  bool exclusive_ = false;
  int exclusive_waiting_ = 0;
  int short_way_skip_ = 0;                   // groups to take the long way after a miss
  uint64_t stream_salt_ = 0, key_salt_ = 0;  // of the lock keys (LockKey)
  Session session_;                          // the connection's, set at connect
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
  Turn turn(this);
  for (;;) {
    bool retry = false;
    std::vector<Status> attempt(batches.size());
    Status s = TryCommitGroup(batches, valid, &attempt, &retry, &turn);
    if (s.ok()) {
      for (size_t i = 0; i < batches.size(); ++i) {
        if (!valid[i]) continue;
        (*results)[i] = attempt[i];
        if (!attempt[i].ok()) continue;
        for (const WriteBatch::Op& op : batches[i]->ops()) {
          if (op.kind == WriteBatch::OpKind::kAppend ||
              op.kind == WriteBatch::OpKind::kAppendExpect) {
            ++shared_->appends;
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
    ++shared_->retries;
    conn_.Sleep(backoff_ms);
    backoff_ms = std::min(backoff_ms * 2, 500);
  }
}

bool PgBackend::MayFly(std::span<const WriteBatch* const> batches, const std::vector<bool>& valid,
                       std::vector<std::string_view>* streams) {
  if (!RoomForFlight() || conn_.broken()) return false;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (!valid[i]) continue;
    for (const WriteBatch::Op& op : batches[i]->ops()) {
      if (op.kind != WriteBatch::OpKind::kAppend && op.kind != WriteBatch::OpKind::kAppendExpect) {
        return false;
      }
      if (flying_streams_.count(op.name) || !shared_->known.count(op.name)) return false;
      streams->push_back(op.name);
    }
  }
  return true;
}

Status PgBackend::TryCommitGroup(std::span<const WriteBatch* const> batches,
                                 const std::vector<bool>& valid, std::vector<Status>* results,
                                 bool* retry, Turn* turn) {
  *retry = true;  // until the answer is known, a failure rolled everything back
  if (!turn->decided()) {
    std::vector<std::string_view> streams;
    if (MayFly(batches, valid, &streams)) {
      turn->Fly(std::move(streams));
    } else {
      turn->Hold();
    }
  }
  Status s = turn->flying() ? Status::OK() : Ensure();  // a flight goes on a live connection
  if (!s.ok()) return s;

  // The short way: one round trip on the marks this process remembers.
  bool try_short = opt_.one_round_trip && short_way_skip_ == 0;
  if (short_way_skip_ > 0) --short_way_skip_;
  bool stale = false;
  if (try_short && ShortWay(batches, valid, &s, retry, &stale, turn) && !stale) {
    return s;  // every batch accepted (results stay OK), or the try failed
  }
  turn->Hold();  // the long way's transaction spans two round trips
  s = Ensure();
  if (!s.ok()) return s;

  // The long way: lock and read in one round trip, then write and commit.
  GroupNames names;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (!valid[i]) continue;
    for (const WriteBatch::Op& op : batches[i]->ops()) {
      auto& m = IsKeyOp(op.kind) ? names.key_hash : names.stream_hash;
      auto [it, fresh] = m.try_emplace(op.name);
      if (!fresh) continue;
      auto known = IsKeyOp(op.kind) ? shared_->known.end() : shared_->known.find(op.name);
      it->second = known != shared_->known.end() ? known->second.hash : HashOf(op.name);
    }
  }
  GroupState state;
  s = LockAndRead(names, &state, retry);
  if (!s.ok()) return s;
  if (opt_.test_hook) opt_.test_hook("locked");
  GroupState before = state;
  std::vector<Appended> appended;
  CheckBatches(batches, valid, &state, results, &appended);
  return SendGroup(names, before, state, appended, retry);
}

bool PgBackend::ShortWay(std::span<const WriteBatch* const> batches, const std::vector<bool>& valid,
                         Status* s, bool* retry, bool* stale, Turn* turn) {
  // The group's appends, checked against the remembered marks: each
  // stream's run on from its mark + 1. Anything else (another op, a stream
  // not remembered, a refusal, a jump) is for the long way, which decides
  // it on the true state.
  ++shared_->group;
  std::vector<KnownStreams::iterator> touched;
  std::vector<const std::string*> touched_names;  // the batches' own, alive across the commit
  EventRows ev;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (!valid[i]) continue;
    for (const WriteBatch::Op& op : batches[i]->ops()) {
      bool expect = op.kind == WriteBatch::OpKind::kAppendExpect;
      if (op.kind != WriteBatch::OpKind::kAppend && !expect) return false;
      auto it = shared_->known.find(op.name);
      if (it == shared_->known.end()) return false;
      Known& k = it->second;
      if (k.group != shared_->group) {
        k.group = shared_->group;
        k.next = k.hwm;
        touched.push_back(it);
        touched_names.push_back(&op.name);
      }
      if ((expect && op.expected_seq != k.next) || op.seq != k.next + 1) return false;
      k.next = op.seq;
      ev.stream.push_back(k.id);
      ev.seq.push_back(static_cast<int64_t>(op.seq));
      ev.payload.push_back(&*op.value);
    }
  }
  if (touched.empty()) return false;

  // BEGIN, then one call that takes the locks, checks that no truncation or
  // jump moved a stream's row hwm past the remembered mark, and writes.
  // Every stream of the group gets its event at mark + 1, which the primary
  // key refuses if another writer appended there (append_remembered,
  // migration 004; jumps are marked in the stream's row, migration 005; the
  // check is skipped while no row hwm was raised, migration 007).
  // A stream's seqs in the group run from mark + 1 to its new mark: that
  // is its range in the commit row.
  // The row hwms need a full check unless every stream was checked at one
  // marks_moved number and no group has raised a row hwm since.
  std::vector<int64_t> keys, ids, marks, firsts, lasts;
  int64_t checked_at = touched[0]->second.checked_at;
  for (KnownStreams::iterator it : touched) {
    const Known& k = it->second;
    if (k.checked_at != checked_at) checked_at = -1;
    keys.push_back(LockKey(k.hash, stream_salt_));
    ids.push_back(k.id);
    marks.push_back(static_cast<int64_t>(k.hwm));
    firsts.push_back(static_cast<int64_t>(k.hwm + 1));
    lasts.push_back(static_cast<int64_t>(k.next));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string token = NewToken();
  std::vector<Conn::Step> steps;
  Rows checked;
  steps.push_back(Conn::Step{"begin", "BEGIN", {}, nullptr});
  steps.push_back(Conn::Step{
      "append_remembered",
      "SELECT append_remembered($1::int8[], $2::int8[], $3::int8[], $4, $5::int8[], $6::int8[], "
      "$7::bytea[], $8, $9::int8[], $10::int8[])",
      {Int8ArrayParam(keys), Int8ArrayParam(ids), Int8ArrayParam(marks), Int8Param(checked_at),
       Int8ArrayParam(ev.stream), Int8ArrayParam(ev.seq), ByteaArrayParam(ev.payload),
       ByteaParam(token), Int8ArrayParam(firsts), Int8ArrayParam(lasts)},
      &checked});
  // The commit may park, and another handle's work change `known`
  // meanwhile: the streams are looked up again by name afterwards.
  std::vector<std::pair<const std::string*, uint64_t>> left;  // name, new mark
  left.reserve(touched.size());
  for (size_t i = 0; i < touched.size(); ++i)
    left.emplace_back(touched_names[i], touched[i]->second.next);
  touched.clear();
  *s = Commit(&steps, token, retry, stale, turn);
  KnownStreams& known = shared_->known;
  if (*stale) {
    // Another writer moved a stream: forget what this process knew of the
    // group's streams and take the long way, now and for a few groups.
    ++shared_->short_way_misses;
    for (const auto& [name, next] : left) known.erase(*name);
    short_way_skip_ = kShortWaySkip;
  } else if (s->ok()) {
    ++shared_->short_way;
    // After a lost answer that was read back, the number is unknown.
    int64_t at = checked.size() == 1 ? checked.Int8(0, 0) : -1;
    for (const auto& [name, next] : left) {
      auto it = known.find(*name);
      if (it == known.end()) continue;
      it->second.hwm = std::max(it->second.hwm, next);  // another handle's group may be later
      it->second.checked_at = at;
    }
  }
  return true;
}

Status PgBackend::Abandon(Status s, bool* retry) {
  *retry = conn_.broken() || Retryable(conn_.sqlstate());
  if (!conn_.broken()) conn_.Exec("ROLLBACK").IgnoreError();
  return s;
}

std::vector<int64_t> PgBackend::LockKeys(const GroupNames& names) const {
  std::vector<int64_t> keys;
  for (const auto& [name, h] : names.stream_hash) keys.push_back(LockKey(h, stream_salt_));
  for (const auto& [name, h] : names.key_hash) keys.push_back(LockKey(h, key_salt_));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::vector<Conn::Step> PgBackend::LockSteps(const GroupNames& names, bool insert_streams,
                                             LockParams* p) {
  for (const auto& [name, h] : names.stream_hash) {
    p->s_names.push_back(&name);
    p->s_hashes.push_back(&h);
  }
  for (const auto& [name, h] : names.key_hash) p->k_hashes.push_back(&h);
  p->keys = LockKeys(names);
  std::vector<Conn::Step> steps;
  steps.push_back(Conn::Step{"begin", "BEGIN", {}, nullptr});
  if (insert_streams) {
    steps.push_back(Conn::Step{"insert_streams",
                               kInsertStreams,
                               {ByteaArrayParam(p->s_hashes), ByteaArrayParam(p->s_names)},
                               nullptr});
  }
  steps.push_back(Conn::Step{"lock", kLock, {Int8ArrayParam(p->keys)}, nullptr});
  return steps;
}

Status PgBackend::LockAndRead(const GroupNames& names, GroupState* state, bool* retry) {
  // Stream rows are never deleted: once seen, a stream needs no insert.
  bool all_known = true;
  for (const auto& [name, h] : names.stream_hash) all_known &= shared_->known.count(name) > 0;
  LockParams p;
  std::vector<Conn::Step> steps = LockSteps(names, !all_known, &p);
  Rows stream_rows, key_rows;
  if (!p.s_hashes.empty()) {
    steps.push_back(
        Conn::Step{"read_streams", kReadStreams, {ByteaArrayParam(p.s_hashes)}, &stream_rows});
  }
  if (!p.k_hashes.empty()) {
    steps.push_back(Conn::Step{"read_keys", kReadKeys, {ByteaArrayParam(p.k_hashes)}, &key_rows});
  }
  Status s = conn_.Pipeline(&steps);
  if (!s.ok()) return Abandon(s, retry);

  std::map<std::string, const std::string*> stream_by_hash, key_by_hash;
  for (const auto& [name, h] : names.stream_hash) stream_by_hash[h] = &name;
  for (const auto& [name, h] : names.key_hash) key_by_hash[h] = &name;
  for (int r = 0; r < stream_rows.size(); ++r) {
    auto it = stream_by_hash.find(stream_rows.Bytes(r, 0));
    if (it == stream_by_hash.end()) continue;
    state->streams[*it->second] = GroupState::Stream{
        stream_rows.Int8(r, 1), static_cast<uint64_t>(stream_rows.Int8(r, 2)), 0};
  }
  for (const auto& [name, h] : names.key_hash) state->keys[name];
  for (int r = 0; r < key_rows.size(); ++r) {
    auto it = key_by_hash.find(key_rows.Bytes(r, 0));
    if (it != key_by_hash.end()) state->keys[*it->second] = key_rows.Bytes(r, 1);
  }
  if (state->streams.size() != names.stream_hash.size()) {
    // Rows deleted behind this process's back: forget what it knew, try again.
    bool knew = !shared_->known.empty();
    shared_->known.clear();
    s = Abandon(Status::Corruption(conn_.where() + ": locking returned fewer rows than asked"),
                retry);
    *retry = knew;
    return s;
  }
  return Status::OK();
}

Status PgBackend::SendGroup(const GroupNames& names, const GroupState& before,
                            const GroupState& after, const std::vector<Appended>& appended,
                            bool* retry) {
  std::string token = NewToken();
  std::vector<Conn::Step> steps;
  if (!WriteSteps(names.key_hash, before, after, appended, token, &steps)) {
    Status s = conn_.Exec("ROLLBACK");  // nothing to write; let go of the locks
    return s.ok() ? s : Abandon(s, retry);
  }
  bool stale = false;  // the long way's state is read under its locks
  Status s = Commit(&steps, token, retry, &stale);
  if (!s.ok()) return s;
  // Committed: every stream of the group has its row for good, and the mark
  // this group left.
  if (shared_->known.size() > kMaxKnownStreams) shared_->known.clear();
  for (const auto& [name, st] : after.streams) {
    if (name.size() > kMaxKnownNameBytes) continue;
    auto it = shared_->known.find(name);
    if (it != shared_->known.end()) {
      it->second.id = st.id;
      it->second.hwm = std::max(it->second.hwm, st.hwm);  // another handle's group may be later
    } else {
      shared_->known.emplace(name, Known{st.id, st.hwm, names.stream_hash.at(name)});
    }
  }
  return Status::OK();
}

Status PgBackend::Commit(std::vector<Conn::Step>* steps, const std::string& token, bool* retry,
                         bool* stale, Turn* turn) {
  size_t commit_step = steps->size();
  steps->push_back(Conn::Step{"commit", "COMMIT", {}, nullptr});
  // At most one wake-up per kNotifyEveryMs from this process: every notify
  // takes a server-wide lock at its commit, and a follower woken by one
  // reads every commit below the fence anyway (and looks every few ms while
  // commits come, see WaitForCommit). The wake-up is a transaction of its
  // own that commits without waiting for its log record to reach the disk:
  // a notification gets a transaction id and a commit record, and it is
  // only a hint, not worth a second flush.
  // No wake-up while nobody follows: whether someone does is looked up
  // after COMMIT, in the same round trip, at most every followers_check_ms.
  Clock::time_point now = Clock::now();
  if (followers_ && now - last_notify_ >= std::chrono::milliseconds(kNotifyEveryMs)) {
    last_notify_ = now;
    ++shared_->wake_ups;
    steps->push_back(
        Conn::Step{"notify",
                   "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')",
                   {TextParam(Channel())},
                   nullptr});
  }
  Rows following;
  bool check = now >= followers_checked_ + std::chrono::milliseconds(opt_.followers_check_ms);
  if (check) {
    steps->push_back(
        Conn::Step{"followers",
                   "SELECT EXISTS (SELECT 1 FROM followers WHERE until > now()), " SX_PG_XID_FLOOR,
                   {},
                   &following});
  }
  // The session that runs the transaction, should the answer be lost.
  Session session = session_;
  bool flight = turn != nullptr && turn->flying();
  Status s;
  if (opt_.test_hook && opt_.test_hook("commit")) {
    if (flight) turn->Hold();  // no other flight is out on the session it ends
    flight = false;
    conn_.Close();  // as if the connection broke while COMMIT was on its way
    s = Status::IOError(conn_.where() + ": connection closed before COMMIT");
  } else if (flight) {
    // Sent at once, even while another group is on the server: this
    // group's work on the server follows that one's, and this process's
    // work on the next group overlaps both.
    static const Conn::Step kLead{"rollback", "ROLLBACK", {}, nullptr};
    Conn::Flight f;
    Status sent = conn_.Send(steps, &f, &kLead);
    if (f.led) {
      ++commit_step;
      ++shared_->overlapped;
    }
    s = conn_.Receive(steps, f);
    if (!sent.ok()) s = sent;
  } else {
    s = conn_.Pipeline(steps);
  }
  // What the answer said, read before a flight waits for the connection
  // (another caller's statements may run meanwhile).
  bool broken = conn_.broken();
  std::string sqlstate = conn_.sqlstate();
  if (!s.ok() && !broken && conn_.failed_step() != SIZE_MAX && conn_.failed_step() > commit_step) {
    // COMMIT answered OK; only a hint after it failed (the wake-up, the
    // look for followers). The group committed: so it is reported.
    s = Status::OK();
  }
  if (!s.ok() && !broken) {
    *stale = sqlstate == kStaleState ||
             (sqlstate == kUniqueViolation && conn_.constraint() == "events_pkey");
    if (!flight) return Abandon(s, retry);  // rolled back (or to roll back)
    turn->Hold();
    *retry = Retryable(sqlstate);
    if (!conn_.broken()) conn_.Exec("ROLLBACK").IgnoreError();
    return s;
  }
  if (s.ok() && check && following.size() == 1) {
    followers_ = following.Bool(0, 0);
    session_.xid_floor = following.Int8(0, 1);
    followers_checked_ = now;
  }
  bool lost = !s.ok() && broken;
  if (s.ok() && opt_.test_hook && opt_.test_hook("committed")) {
    if (flight) turn->Hold();
    conn_.Close();
    lost = true;
  }
  if (lost) {
    if (flight) turn->Hold();  // the read-back opens a new session
    // The answer is lost: the server knows whether the transaction committed.
    ++shared_->read_backs;
    bool committed = false;
    Status rb = ReadBack(session, token, &committed);
    if (!rb.ok()) {
      *retry = false;
      return Status::IOError(conn_.where() +
                             ": connection lost during COMMIT and the outcome could not be read "
                             "back: " +
                             rb.message());
    }
    if (!committed) return s.ok() ? Status::IOError("commit answer lost; not committed") : s;
  }
  ++shared_->commits;
  return Status::OK();
}

Status PgBackend::ReadBack(const Session& lost, const std::string& token, bool* committed) {
  Clock::time_point give_up = Clock::now() + std::chrono::milliseconds(opt_.retry_ms);
  int backoff_ms = 10;
  for (;;) {
    Status s = conn_.Reconnect();
    if (s.ok()) s = AfterConnect();
    // The lost transaction's session must end first: while it runs, its
    // transaction may still commit. It is asked to end (its pid and start
    // time name it; after a server restart it is gone) and looked for again.
    Rows running;
    if (s.ok() && !lost.start.empty()) {
      s = conn_.Run("read_back_end",
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid = $1 AND backend_start::text = $2",
                    {Int8Param(lost.pid), TextParam(lost.start)}, &running);
    }
    if (s.ok() && running.size() == 0) {
      // Ended: its commits row, which holds the token, is there or never will be.
      Rows mine;
      s = conn_.Run("read_back",
                    "SELECT count(*) FROM commits WHERE xid >= $2::text::xid8 AND token = $1",
                    {ByteaParam(token), TextParam(std::to_string(lost.xid_floor))}, &mine);
      if (s.ok()) {
        *committed = mine.Int8(0, 0) > 0;
        return Status::OK();
      }
    }
    if (Clock::now() >= give_up) {
      return s.ok() ? Status::IOError(conn_.where() + ": the session of the lost COMMIT (pid " +
                                      std::to_string(lost.pid) + ") has not ended")
                    : s;
    }
    conn_.Sleep(backoff_ms);
    backoff_ms = std::min(backoff_ms * 2, 500);
  }
}

Status PgBackend::BlobPut(const std::string& bytes, std::string* cid) {
  Exclusive x(this);
  *cid = store::CidForBytes(bytes);
  bool has = false;
  Status s = BlobHasNow(*cid, &has);
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
  if (!s.ok() && conn_.broken() && BlobHasNow(*cid, &has).ok() && has) return Status::OK();
  return s.ok() ? s : s.WithContext("blob-put");
}

Status PgBackend::BlobGet(const std::string& cid, std::string* bytes) {
  Exclusive x(this);
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
  Exclusive x(this);
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    Status s = CommitPositionNow(position);
    Clock::time_point now = Clock::now();
    if (s.ok() && *position > seen) busy_until_ = now + std::chrono::milliseconds(kBusyMs);
    if (!s.ok() || *position > seen) return s;
    if (now >= deadline) return Status::OK();
    if (!listening_ || now >= follower_beat_) {
      // Listen, and tell writers that someone follows (or renew the lease).
      if (follower_id_.empty()) follower_id_ = NewToken();
      s = conn_.Run("follower",
                    "INSERT INTO followers (id, until) VALUES ($1, now() + " SX_PG_FOLLOWER_LEASE
                    ") ON CONFLICT (id) DO UPDATE SET until = excluded.until",
                    {ByteaParam(follower_id_)}, nullptr);
      if (!s.ok()) return s;
      follower_beat_ = now + std::chrono::milliseconds(kFollowerBeatMs);
      if (!listening_) {
        s = conn_.Exec("LISTEN " + conn_.QuoteIdent(Channel()));
        if (!s.ok()) return s;
        listening_ = true;
        busy_until_ = std::max(busy_until_, now + std::chrono::milliseconds(kFollowerLearnMs));
        continue;  // a commit may have landed before LISTEN took effect
      }
    }
    // A notification is a hint; a commit can also become visible without one
    // (an older transaction ended, or its writer had sent a wake-up less
    // than kNotifyEveryMs before), so look every kIdlePollMs, and every
    // kBusyPollMs while commits are coming.
    int wait = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    conn_.Wait(POLLIN, std::min(wait, now < busy_until_ ? kBusyPollMs : kIdlePollMs));
    PQconsumeInput(conn_.raw());
    while (PGnotify* n = PQnotifies(conn_.raw())) {
      PQfreemem(n);
      busy_until_ = Clock::now() + std::chrono::milliseconds(kBusyMs);
    }
  }
}

Status PgBackend::ReadCommitted(uint64_t after, size_t limit, std::vector<CommittedEvent>* out,
                                uint64_t* position) {
  Exclusive x(this);
  out->clear();
  uint64_t upto = 0;
  Status s = CommitPositionNow(&upto);
  if (!s.ok()) return s;
  // Each commit row names the seqs its transaction wrote, per stream.
  const char* sql =
      "SELECT c.xid::text::int8, s.name, e.seq, e.payload FROM commits c "
      "CROSS JOIN LATERAL unnest(c.stream_ids, c.first_seqs, c.last_seqs) AS r(id, f, l) "
      "JOIN streams s ON s.id = r.id "
      "JOIN events e ON e.stream_id = r.id AND e.seq BETWEEN r.f AND r.l "
      "WHERE c.xid > $1::text::xid8 AND c.xid <= $2::text::xid8 "
      "ORDER BY c.xid, r.id, e.seq LIMIT $3";
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
