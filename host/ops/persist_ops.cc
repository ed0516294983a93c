// persist_ops.cc — the persist/* and blob/* ops, one small function each,
// found through a table by name.
//
// Every op runs to completion inside one call of HandleOp, on the host's one
// thread, so a check-then-write op (append-expect, kv-cas, commit) is atomic
// with respect to every other SX computation of this process, and the store's
// directory lock keeps other processes out.
//
// Group commit (HandleBatch). When the scheduler hands over a round in which
// several tasks wait on writes, the writes become one WriteBatch each and go
// to Store::CommitGroup together: one write and one fdatasync for all. The
// checks of the check-then-write ops are expressed in the batches
// (AppendExpect, KvCas), so the store validates each against the state the
// earlier ones leave, and a refused one is that task's conflict value. No
// answer is given before CommitGroup returns, so under sync=always no task
// resumes before its own write is on stable storage. Requests are taken in
// the batch's order (the scheduler varies which task comes first); a read
// (or any op that is not a write) first commits the writes before it, so it
// sees them. A round with fewer than two writes goes through HandleOp
// unchanged.
#include "host/ops/persist_ops.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "host/ops/value_codec.h"
#include "host/store/cid.h"
#include "host/store/rose_ash.h"

namespace sx::host {

namespace {

// Raised inside an op; becomes an SX error naming the op, subject and cause.
struct OpFailure {
  std::string subject_kind;  // "stream", "key", "cid" or ""
  std::string subject;
  std::string cause;
};

struct Ctx {
  Interpreter& in;
  std::string_view op;
  std::vector<Value> args;
  store::Store* store;

  [[noreturn]] void Fail(std::string cause, std::string kind = "", std::string subject = "") const {
    throw OpFailure{std::move(kind), std::move(subject), std::move(cause)};
  }
  void Arity(size_t n) const {
    if (args.size() != n) {
      Fail("expected " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") + ", got " +
           std::to_string(args.size()));
    }
  }
  std::string Str(size_t i, const char* what) const {
    const Value& v = args[i];
    if (v.IsString() || v.IsKeyword()) return v.AsString();
    Fail(std::string(what) + " must be a string, got " + v.Brief());
  }
  int64_t Int(size_t i, const char* what) const {
    const Value& v = args[i];
    if (!v.IsInt()) Fail(std::string(what) + " must be an integer, got " + v.Brief());
    return v.AsInt();
  }
  std::string Text(const Value& v, const char* kind, const std::string& subject) const {
    std::string bytes, why;
    if (!EncodeValue(in, v, &bytes, &why)) Fail("cannot store the value: " + why, kind, subject);
    return bytes;
  }
  Value Parse(const std::string& text, const char* kind, const std::string& subject) const {
    Value v;
    std::string why;
    if (!DecodeValue(in, text, &v, &why)) {
      Fail("stored value does not parse: " + why, kind, subject);
    }
    return v;
  }
  void Check(const store::Status& s, const char* kind = "", const std::string& subject = "") const {
    if (!s.ok()) Fail(s.ToString(), kind, subject);
  }
  Value Conflict(const Value& expected, const Value& actual) const {
    std::pair<std::string, Value> e[] = {
        {"conflict", in.Bool(true)}, {"expected", expected}, {"actual", actual}};
    return in.Dict(e);
  }
};

// An event's time: an integer (what the library's queries compare), or nil.
void CheckAt(const Ctx& c, const Value& at, const char* what, const std::string& stream) {
  if (!at.IsNil() && !at.IsInt()) {
    c.Fail(std::string(what) + " must be an integer, got " + at.Brief(), "stream", stream);
  }
}

// The event's :seq, checked, after its :stream (when it has one) is checked
// to name the stream it is appended to and its :at to be an integer.
uint64_t EventSeq(const Ctx& c, const Value& event, const std::string& stream) {
  if (!event.IsDict()) c.Fail("the event must be a dict, got " + event.Brief(), "stream", stream);
  Value own = event.Get("stream");
  if (!own.IsNil() && !((own.IsString() || own.IsKeyword()) && own.AsString() == stream)) {
    c.Fail("the event's :stream " + own.Brief() + " is not the stream it is appended to", "stream",
           stream);
  }
  CheckAt(c, event.Get("at"), "the event's :at", stream);
  Value seq = event.Get("seq");
  if (!seq.IsInt() || seq.AsInt() < 1) {
    c.Fail("the event's :seq must be a positive integer, got " + seq.Brief(), "stream", stream);
  }
  return static_cast<uint64_t>(seq.AsInt());
}

// The largest seq an event can have: seqs are SX integers (int64). A stream
// whose last seq is this one is full: every append to it is refused, and its
// seqs never wrap to negative numbers.
constexpr uint64_t kMaxSeq = INT64_MAX;

[[noreturn]] void StreamFull(const Ctx& c, const std::string& stream) {
  c.Fail("stream is full: its last seq is " + std::to_string(kMaxSeq) + ", the largest there is",
         "stream", stream);
}

// Refuses an append to a stream whose last seq is `last` when it is full.
void CheckRoom(const Ctx& c, const std::string& stream, uint64_t last) {
  if (last >= kMaxSeq) StreamFull(c, stream);
}

// The error for an append of `seq` the store refused as not above the mark.
[[noreturn]] void AppendConflict(const Ctx& c, const std::string& stream, uint64_t seq,
                                 const store::Status& s) {
  if (s.actual() >= kMaxSeq) StreamFull(c, stream);
  c.Fail("conflict: seq " + std::to_string(seq) + " is not above the last seq " +
             std::to_string(s.actual()) + " (expected " + std::to_string(s.actual() + 1) + ")",
         "stream", stream);
}

// A commit refused because an append to a full stream could not be placed
// (the store then expects a seq past kMaxSeq) is an error, not a conflict.
void CheckCommitRoom(const Ctx& c, const store::Status& s) {
  if (s.IsConflict() && s.expected() > kMaxSeq) {
    c.Fail("stream is full: an append to a stream whose last seq is " + std::to_string(kMaxSeq));
  }
}

Value ReadEvents(const Ctx& c, const std::string& stream, uint64_t from, size_t limit) {
  std::vector<store::Event> events;
  c.Check(c.store->Read(stream, from, limit, &events), "stream", stream);
  // One builder for the whole answer: the events are decoded straight into
  // the list, without a handle each.
  ValueBuilder b(c.in);
  std::string why;
  for (const store::Event& e : events) {
    if (!DecodeInto(c.in, b, e.payload, &why)) {
      c.Fail("stored value does not parse: " + why, "stream", stream);
    }
  }
  b.List(events.size());
  return b.Take();
}

Value StringList(Interpreter& in, const std::vector<std::string>& names) {
  std::vector<Value> items;
  items.reserve(names.size());
  for (const std::string& n : names) items.push_back(in.String(n));
  return in.List(items);
}

// --- the reference ops ---------------------------------------------------------

Value OpAppend(Ctx& c) {
  c.Arity(2);
  std::string stream = c.Str(0, "stream");
  uint64_t seq = EventSeq(c, c.args[1], stream);
  std::string payload = c.Text(c.args[1], "stream", stream);
  store::Status s = c.store->Append(stream, seq, payload);
  if (s.IsConflict()) AppendConflict(c, stream, seq, s);
  c.Check(s, "stream", stream);
  return c.args[1];
}

Value OpRead(Ctx& c) {
  if (c.args.empty() || c.args.size() > 3) c.Fail("expected (stream [from [limit]])");
  std::string stream = c.Str(0, "stream");
  uint64_t from =
      c.args.size() > 1 ? static_cast<uint64_t>(std::max<int64_t>(0, c.Int(1, "from"))) : 0;
  size_t limit =
      c.args.size() > 2 ? static_cast<size_t>(std::max<int64_t>(0, c.Int(2, "limit"))) : SIZE_MAX;
  return ReadEvents(c, stream, from, limit);
}

Value OpReadRange(Ctx& c) {
  c.Arity(3);
  std::string stream = c.Str(0, "stream");
  int64_t from = c.Int(1, "from");
  int64_t limit = c.Int(2, "limit");
  if (limit < 0) c.Fail("limit must not be negative", "stream", stream);
  return ReadEvents(c, stream, static_cast<uint64_t>(std::max<int64_t>(0, from)),
                    static_cast<size_t>(limit));
}

Value OpLastSeq(Ctx& c) {
  c.Arity(1);
  return c.in.Int(static_cast<int64_t>(c.store->LastSeq(c.Str(0, "stream"))));
}

Value OpTruncateThrough(Ctx& c) {
  c.Arity(2);
  std::string stream = c.Str(0, "stream");
  int64_t seq = c.Int(1, "seq");
  if (seq > 0)
    c.Check(c.store->TruncateThrough(stream, static_cast<uint64_t>(seq)), "stream", stream);
  return c.in.Nil();
}

Value OpStreams(Ctx& c) {
  c.Arity(0);
  return StringList(c.in, c.store->Streams());
}

Value OpKvGet(Ctx& c) {
  c.Arity(1);
  std::string key = c.Str(0, "key");
  std::string text;
  store::Status s = c.store->KvGet(key, &text);
  if (s.IsNotFound()) return c.in.Nil();
  c.Check(s, "key", key);
  return c.Parse(text, "key", key);
}

Value OpKvPut(Ctx& c) {
  c.Arity(2);
  std::string key = c.Str(0, "key");
  c.Check(c.store->KvPut(key, c.Text(c.args[1], "key", key)), "key", key);
  return c.args[1];
}

Value OpKvDelete(Ctx& c) {
  c.Arity(1);
  std::string key = c.Str(0, "key");
  c.Check(c.store->KvDelete(key), "key", key);
  return c.in.Nil();
}

Value OpKvHas(Ctx& c) {
  c.Arity(1);
  return c.in.Bool(c.store->KvHas(c.Str(0, "key")));
}

Value OpKvKeys(Ctx& c) {
  c.Arity(0);
  return StringList(c.in, c.store->KvKeys());
}

Value OpBlobPut(Ctx& c) {
  if (c.args.empty() || c.args.size() > 2) c.Fail("expected (bytes [mime])");
  if (!c.args[0].IsString()) c.Fail("bytes must be a string, got " + c.args[0].Brief());
  if (c.args.size() == 2 && !c.args[1].IsNil() && !c.args[1].IsString()) {
    c.Fail("mime must be a string, got " + c.args[1].Brief());
  }
  std::string cid;
  c.Check(c.store->BlobPut(c.args[0].AsString(), &cid));
  return c.in.String(cid);
}

Value OpBlobGet(Ctx& c) {
  c.Arity(1);
  std::string cid = c.Str(0, "cid");
  std::string bytes;
  store::Status s = c.store->BlobGet(cid, &bytes);
  if (s.IsNotFound()) return c.in.Nil();
  c.Check(s, "cid", cid);
  return c.in.String(bytes);
}

Value OpBlobHas(Ctx& c) {
  c.Arity(1);
  return c.in.Bool(c.store->BlobHas(c.Str(0, "cid")));
}

// --- atomic ops beyond the reference ------------------------------------------

// (stream type at data): the host numbers the event hwm + 1 and appends it,
// in one round trip.
Value OpAppendNext(Ctx& c) {
  c.Arity(4);
  std::string stream = c.Str(0, "stream");
  CheckAt(c, c.args[2], ":at", stream);
  uint64_t last = c.store->LastSeq(stream);
  CheckRoom(c, stream, last);
  uint64_t seq = last + 1;
  std::pair<std::string, Value> e[] = {{"stream", c.args[0]},
                                       {"seq", c.in.Int(static_cast<int64_t>(seq))},
                                       {"type", c.args[1]},
                                       {"at", c.args[2]},
                                       {"data", c.args[3]}};
  Value event = c.in.Dict(e);
  c.Check(c.store->Append(stream, seq, c.Text(event, "stream", stream)), "stream", stream);
  return event;
}

// (stream expected event): appends when the last seq is `expected`, else
// answers a conflict value.
Value OpAppendExpect(Ctx& c) {
  c.Arity(3);
  std::string stream = c.Str(0, "stream");
  int64_t expected = c.Int(1, "expected");
  uint64_t actual = c.store->LastSeq(stream);
  if (expected < 0 || static_cast<uint64_t>(expected) != actual) {
    return c.Conflict(c.args[1], c.in.Int(static_cast<int64_t>(actual)));
  }
  CheckRoom(c, stream, actual);
  uint64_t seq = EventSeq(c, c.args[2], stream);
  c.Check(c.store->Append(stream, seq, c.Text(c.args[2], "stream", stream)), "stream", stream);
  return c.args[2];
}

// (stream events [expected]): all the events or none; with `expected`, a
// conflict value when the stream moved.
Value OpAppendBatch(Ctx& c) {
  if (c.args.size() < 2 || c.args.size() > 3) c.Fail("expected (stream events [expected])");
  std::string stream = c.Str(0, "stream");
  if (!c.args[1].IsList())
    c.Fail("events must be a list, got " + c.args[1].Brief(), "stream", stream);
  uint64_t actual = c.store->LastSeq(stream);
  if (c.args.size() == 3) {
    int64_t expected = c.Int(2, "expected");
    if (expected < 0 || static_cast<uint64_t>(expected) != actual) {
      return c.Conflict(c.args[2], c.in.Int(static_cast<int64_t>(actual)));
    }
  }
  store::WriteBatch batch;
  for (const Value& ev : c.args[1].Items()) {
    batch.Append(stream, EventSeq(c, ev, stream), c.Text(ev, "stream", stream));
  }
  if (!batch.empty()) CheckRoom(c, stream, actual);
  store::Status s = c.store->Commit(batch);
  if (s.IsConflict()) {
    c.Fail("conflict: the batch's seqs must rise above the last seq " + std::to_string(actual),
           "stream", stream);
  }
  c.Check(s, "stream", stream);
  return c.args[1];
}

// Reads a key's current value as text; nullopt when absent.
std::optional<std::string> CurrentText(const Ctx& c, const std::string& key) {
  std::string text;
  store::Status s = c.store->KvGet(key, &text);
  if (s.IsNotFound()) return std::nullopt;
  c.Check(s, "key", key);
  return text;
}

// (key expected new): sets key to new when its value is equal? to expected
// (nil matches an absent key); answers new, or a conflict value.
Value OpKvCas(Ctx& c) {
  c.Arity(3);
  std::string key = c.Str(0, "key");
  std::string expected = c.Text(c.args[1], "key", key);
  std::optional<std::string> cur = CurrentText(c, key);
  bool match = cur ? StoredValueIs(c.in, *cur, expected) : c.args[1].IsNil();
  if (!match) return c.Conflict(c.args[1], cur ? c.Parse(*cur, "key", key) : c.in.Nil());
  store::WriteBatch batch;
  batch.KvCas(key, cur, c.Text(c.args[2], "key", key));
  c.Check(c.store->Commit(batch), "key", key);
  return c.args[2];
}

// (key value): stores value only when key is absent.
Value OpKvPutNew(Ctx& c) {
  c.Arity(2);
  std::string key = c.Str(0, "key");
  std::optional<std::string> cur = CurrentText(c, key);
  if (cur) {
    std::pair<std::string, Value> e[] = {{"conflict", c.in.Bool(true)},
                                         {"reason", c.in.String("exists")},
                                         {"actual", c.Parse(*cur, "key", key)}};
    return c.in.Dict(e);
  }
  store::WriteBatch batch;
  batch.KvCas(key, std::nullopt, c.Text(c.args[1], "key", key));
  c.Check(c.store->Commit(batch), "key", key);
  return c.args[1];
}

// What a check that the key holds `encoded` must compare with: the bytes as
// stored when they hold that value (a store written before the binary
// encoding holds text), else `encoded`.
std::string StoredForm(const Ctx& c, const std::string& key, std::string encoded) {
  std::optional<std::string> cur = CurrentText(c, key);
  if (cur && StoredValueIs(c.in, *cur, encoded)) return *cur;
  return encoded;
}

// (writes): a list of write dicts committed together, all or none:
//   {:op "append" :stream s :event e}          {:op "kv-put" :key k :value v}
//   {:op "append-expect" :stream s :expected n :event e}
//   {:op "kv-delete" :key k}                    {:op "kv-cas" :key k :expected x :value v}
//   {:op "truncate" :stream s :seq n}
// Answers true, or the conflict value of the first check that failed.
void BuildCommit(const Ctx& c, store::WriteBatch& batch) {
  c.Arity(1);
  if (!c.args[0].IsList()) c.Fail("writes must be a list, got " + c.args[0].Brief());
  for (const Value& w : c.args[0].Items()) {
    if (!w.IsDict() || !w.Get("op").IsString()) {
      c.Fail("each write must be a dict with an :op, got " + w.Brief());
    }
    std::string kind = w.Get("op").AsString();
    auto field_str = [&](const char* f) {
      Value v = w.Get(f);
      if (!v.IsString()) c.Fail(kind + ": :" + f + " must be a string, got " + v.Brief());
      return v.AsString();
    };
    auto field_int = [&](const char* f) {
      Value v = w.Get(f);
      if (!v.IsInt()) c.Fail(kind + ": :" + f + " must be an integer, got " + v.Brief());
      return v.AsInt();
    };
    if (kind == "append" || kind == "append-expect") {
      std::string stream = field_str("stream");
      Value ev = w.Get("event");
      uint64_t seq = EventSeq(c, ev, stream);
      if (kind == "append") {
        CheckRoom(c, stream, c.store->LastSeq(stream));
        batch.Append(stream, seq, c.Text(ev, "stream", stream));
      } else {
        int64_t expected = field_int("expected");
        if (expected < 0) c.Fail("append-expect: :expected must not be negative", "stream", stream);
        CheckRoom(c, stream, static_cast<uint64_t>(expected));
        batch.AppendExpect(stream, static_cast<uint64_t>(expected), seq,
                           c.Text(ev, "stream", stream));
      }
    } else if (kind == "kv-put") {
      std::string key = field_str("key");
      batch.KvPut(key, c.Text(w.Get("value"), "key", key));
    } else if (kind == "kv-delete") {
      batch.KvDelete(field_str("key"));
    } else if (kind == "kv-cas") {
      std::string key = field_str("key");
      Value expected = w.Get("expected");
      std::optional<std::string> exp;
      if (!expected.IsNil()) exp = StoredForm(c, key, c.Text(expected, "key", key));
      batch.KvCas(key, exp, c.Text(w.Get("value"), "key", key));
    } else if (kind == "truncate") {
      batch.TruncateThrough(field_str("stream"),
                            static_cast<uint64_t>(std::max<int64_t>(0, field_int("seq"))));
    } else {
      c.Fail("unknown write op " + w.Get("op").Brief());
    }
  }
}

Value OpCommit(Ctx& c) {
  store::WriteBatch batch;
  BuildCommit(c, batch);
  store::Status s = c.store->Commit(batch);
  CheckCommitRoom(c, s);
  if (s.IsConflict()) {
    return c.Conflict(c.in.Int(static_cast<int64_t>(s.expected())),
                      c.in.Int(static_cast<int64_t>(s.actual())));
  }
  c.Check(s);
  return c.in.Bool(true);
}

Value OpSync(Ctx& c) {
  c.Arity(0);
  c.Check(c.store->Sync());
  return c.in.Nil();
}

Value OpStats(Ctx& c) {
  c.Arity(0);
  store::Store::Stats s = c.store->GetStats();
  auto n = [&](uint64_t v) { return c.in.Int(static_cast<int64_t>(v)); };
  std::pair<std::string, Value> e[] = {{"streams", n(s.streams)},
                                       {"events", n(s.events_live)},
                                       {"kv-keys", n(s.kv_keys)},
                                       {"blobs", n(s.blobs)},
                                       {"segments", n(s.segments)},
                                       {"bytes-on-disk", n(s.bytes_on_disk)},
                                       {"bytes-used", n(s.bytes_used)},
                                       {"bytes-live", n(s.bytes_live)},
                                       {"appends", n(s.appends)},
                                       {"commits", n(s.commits)},
                                       {"syncs", n(s.syncs)},
                                       {"records-read", n(s.records_read)},
                                       {"compactions", n(s.compactions)},
                                       {"index-bytes", n(s.index_bytes)},
                                       {"recovered-torn-bytes", n(s.recovered_torn_bytes)}};
  return c.in.Dict(e);
}

Value OpCompact(Ctx& c) {
  c.Arity(0);
  c.Check(c.store->Compact());
  return c.in.Nil();
}

// (bytes): the cid blob/put gives those bytes, without storing them.
Value OpBlobCid(Ctx& c) {
  c.Arity(1);
  if (!c.args[0].IsString()) c.Fail("bytes must be a string, got " + c.args[0].Inspect());
  return c.in.String(store::CidForBytes(c.args[0].AsString()));
}

Value OpOps(Ctx& c);

struct OpEntry {
  const char* name;
  Value (*fn)(Ctx&);
};

const OpEntry kOps[] = {
    {"persist/append", OpAppend},
    {"persist/read", OpRead},
    {"persist/last-seq", OpLastSeq},
    {"persist/truncate-through", OpTruncateThrough},
    {"persist/streams", OpStreams},
    {"persist/kv-get", OpKvGet},
    {"persist/kv-put", OpKvPut},
    {"persist/kv-delete", OpKvDelete},
    {"persist/kv-has?", OpKvHas},
    {"persist/kv-keys", OpKvKeys},
    {"blob/put", OpBlobPut},
    {"blob/get", OpBlobGet},
    {"blob/has?", OpBlobHas},
    {"persist/append-next", OpAppendNext},
    {"persist/append-expect", OpAppendExpect},
    {"persist/append-batch", OpAppendBatch},
    {"persist/kv-cas", OpKvCas},
    {"persist/kv-put-new", OpKvPutNew},
    {"persist/commit", OpCommit},
    {"persist/read-range", OpReadRange},
    {"persist/sync", OpSync},
    {"persist/stats", OpStats},
    {"persist/compact", OpCompact},
    {"persist/ops", OpOps},
    {"blob/cid", OpBlobCid},
};

// (): the names of the ops this host serves, so a client can ask once and
// fall back to the reference ops where an op is missing.
Value OpOps(Ctx& c) {
  c.Arity(0);
  std::vector<std::string> names;
  for (const OpEntry& e : kOps) names.emplace_back(e.name);
  return StringList(c.in, names);
}

// Ops that answer without opening the store.
bool NeedsStore(std::string_view op) { return op != "persist/ops" && op != "blob/cid"; }

// --- group commit -------------------------------------------------------------------

IoResult Failure(Interpreter& in, std::string_view op, const std::string& kind,
                 const std::string& subject, const std::string& cause) {
  std::string msg(op);
  if (!kind.empty()) msg += ": " + kind + " " + in.String(subject).Brief();
  msg += ": " + cause;
  std::vector<std::pair<std::string, Value>> data = {{"op", in.String(op)},
                                                     {"cause", in.String(cause)}};
  if (!kind.empty()) data.emplace_back(kind, in.String(subject));
  return IoResult::Failed(msg, in.Dict(data));
}

const OpEntry* FindOp(std::string_view op) {
  for (const OpEntry& e : kOps) {
    if (op == e.name) return &e;
  }
  return nullptr;
}

bool IsWriteOp(std::string_view op) {
  static const char* const kWrites[] = {
      "persist/append", "persist/append-next",     "persist/append-expect", "persist/append-batch",
      "persist/kv-put", "persist/kv-delete",       "persist/kv-cas",        "persist/kv-put-new",
      "persist/commit", "persist/truncate-through"};
  for (const char* w : kWrites) {
    if (op == w) return true;
  }
  return false;
}

// One task's write in a group: its batch, and how to answer once the group
// is committed. `now` answers without writing (a check that fails up front).
struct GroupWrite {
  size_t index = 0;
  std::unique_ptr<Ctx> ctx;
  store::WriteBatch batch;
  std::function<Value(const store::Status&)> finish;
  std::optional<Value> now;
  // append-next numbers its event from the group's view of the stream; if an
  // earlier write of the group was refused that view was wrong, and the
  // request is served again on its own.
  bool retry_on_conflict = false;
};

// The stream's hwm as the group so far leaves it (assuming its writes land).
using HwmOverlay = std::unordered_map<std::string, uint64_t>;

uint64_t GroupHwm(const Ctx& c, const HwmOverlay& hwm, const std::string& stream) {
  auto it = hwm.find(stream);
  return it != hwm.end() ? it->second : c.store->LastSeq(stream);
}

Value CurrentValue(const Ctx& c, const std::string& key) {
  std::optional<std::string> cur = CurrentText(c, key);
  return cur ? c.Parse(*cur, "key", key) : c.in.Nil();
}

void BuildGroupWrite(GroupWrite& g, HwmOverlay& hwm) {
  const Ctx& c = *g.ctx;
  std::string_view op = c.op;
  if (op == "persist/append") {
    c.Arity(2);
    std::string stream = c.Str(0, "stream");
    uint64_t seq = EventSeq(c, c.args[1], stream);
    g.batch.Append(stream, seq, c.Text(c.args[1], "stream", stream));
    hwm[stream] = std::max(GroupHwm(c, hwm, stream), seq);
    g.finish = [&c, stream, seq](const store::Status& s) {
      if (s.IsConflict()) AppendConflict(c, stream, seq, s);
      c.Check(s, "stream", stream);
      return c.args[1];
    };
  } else if (op == "persist/append-next") {
    c.Arity(4);
    std::string stream = c.Str(0, "stream");
    CheckAt(c, c.args[2], ":at", stream);
    uint64_t last = GroupHwm(c, hwm, stream);
    CheckRoom(c, stream, last);
    std::pair<std::string, Value> e[] = {{"stream", c.args[0]},
                                         {"seq", c.in.Int(static_cast<int64_t>(last + 1))},
                                         {"type", c.args[1]},
                                         {"at", c.args[2]},
                                         {"data", c.args[3]}};
    Value event = c.in.Dict(e);
    g.batch.AppendExpect(stream, last, last + 1, c.Text(event, "stream", stream));
    hwm[stream] = last + 1;
    g.retry_on_conflict = true;
    g.finish = [&c, stream, event](const store::Status& s) {
      c.Check(s, "stream", stream);
      return event;
    };
  } else if (op == "persist/append-expect") {
    c.Arity(3);
    std::string stream = c.Str(0, "stream");
    int64_t expected = c.Int(1, "expected");
    if (expected < 0) {
      g.now = c.Conflict(c.args[1], c.in.Int(static_cast<int64_t>(c.store->LastSeq(stream))));
      return;
    }
    uint64_t seq = EventSeq(c, c.args[2], stream);
    g.batch.AppendExpect(stream, static_cast<uint64_t>(expected), seq,
                         c.Text(c.args[2], "stream", stream));
    hwm[stream] = seq;
    g.finish = [&c, stream, expected](const store::Status& s) {
      if (s.IsConflict() && s.actual() != static_cast<uint64_t>(expected)) {
        return c.Conflict(c.args[1], c.in.Int(static_cast<int64_t>(s.actual())));
      }
      if (s.IsConflict()) CheckRoom(c, stream, s.actual());
      c.Check(s, "stream", stream);
      return c.args[2];
    };
  } else if (op == "persist/append-batch") {
    if (c.args.size() < 2 || c.args.size() > 3) c.Fail("expected (stream events [expected])");
    std::string stream = c.Str(0, "stream");
    if (!c.args[1].IsList()) {
      c.Fail("events must be a list, got " + c.args[1].Brief(), "stream", stream);
    }
    std::optional<uint64_t> expected;
    if (c.args.size() == 3) {
      int64_t e = c.Int(2, "expected");
      if (e < 0) {
        g.now = c.Conflict(c.args[2], c.in.Int(static_cast<int64_t>(c.store->LastSeq(stream))));
        return;
      }
      expected = static_cast<uint64_t>(e);
    }
    bool first = true;
    for (const Value& ev : c.args[1].Items()) {
      uint64_t seq = EventSeq(c, ev, stream);
      std::string text = c.Text(ev, "stream", stream);
      if (first && expected) {
        g.batch.AppendExpect(stream, *expected, seq, std::move(text));
      } else {
        g.batch.Append(stream, seq, std::move(text));
      }
      first = false;
      hwm[stream] = seq;
    }
    if (g.batch.empty()) {
      g.now = c.args[1];
      return;
    }
    g.finish = [&c, stream, expected](const store::Status& s) {
      if (s.IsConflict()) {
        if (expected && s.actual() != *expected) {
          return c.Conflict(c.args[2], c.in.Int(static_cast<int64_t>(s.actual())));
        }
        CheckRoom(c, stream, s.actual());
        c.Fail(
            "conflict: the batch's seqs must rise above the last seq " + std::to_string(s.actual()),
            "stream", stream);
      }
      c.Check(s, "stream", stream);
      return c.args[1];
    };
  } else if (op == "persist/kv-put") {
    c.Arity(2);
    std::string key = c.Str(0, "key");
    g.batch.KvPut(key, c.Text(c.args[1], "key", key));
    g.finish = [&c, key](const store::Status& s) {
      c.Check(s, "key", key);
      return c.args[1];
    };
  } else if (op == "persist/kv-delete") {
    c.Arity(1);
    std::string key = c.Str(0, "key");
    g.batch.KvDelete(key);
    g.finish = [&c, key](const store::Status& s) {
      c.Check(s, "key", key);
      return c.in.Nil();
    };
  } else if (op == "persist/kv-cas") {
    c.Arity(3);
    std::string key = c.Str(0, "key");
    std::optional<std::string> expected;
    std::optional<std::string> cur = CurrentText(c, key);
    std::string want = c.Text(c.args[1], "key", key);
    if (cur && StoredValueIs(c.in, *cur, want)) {
      expected = cur;  // as stored, text or binary; a stored nil matches nil, as in the single op
    } else if (!c.args[1].IsNil()) {
      expected = std::move(want);
    }
    g.batch.KvCas(key, expected, c.Text(c.args[2], "key", key));
    g.finish = [&c, key](const store::Status& s) {
      if (s.IsConflict()) return c.Conflict(c.args[1], CurrentValue(c, key));
      c.Check(s, "key", key);
      return c.args[2];
    };
  } else if (op == "persist/kv-put-new") {
    c.Arity(2);
    std::string key = c.Str(0, "key");
    g.batch.KvCas(key, std::nullopt, c.Text(c.args[1], "key", key));
    g.finish = [&c, key](const store::Status& s) {
      if (s.IsConflict()) {
        std::pair<std::string, Value> e[] = {{"conflict", c.in.Bool(true)},
                                             {"reason", c.in.String("exists")},
                                             {"actual", CurrentValue(c, key)}};
        return c.in.Dict(e);
      }
      c.Check(s, "key", key);
      return c.args[1];
    };
  } else if (op == "persist/commit") {
    BuildCommit(c, g.batch);
    for (const auto& w : g.batch.ops()) {
      if (w.kind == store::WriteBatch::OpKind::kAppend ||
          w.kind == store::WriteBatch::OpKind::kAppendExpect) {
        hwm[w.name] = w.seq;
      }
    }
    if (g.batch.empty()) {
      g.now = c.in.Bool(true);
      return;
    }
    g.finish = [&c](const store::Status& s) {
      CheckCommitRoom(c, s);
      if (s.IsConflict()) {
        return c.Conflict(c.in.Int(static_cast<int64_t>(s.expected())),
                          c.in.Int(static_cast<int64_t>(s.actual())));
      }
      c.Check(s);
      return c.in.Bool(true);
    };
  } else {  // persist/truncate-through
    c.Arity(2);
    std::string stream = c.Str(0, "stream");
    int64_t seq = c.Int(1, "seq");
    if (seq <= 0) {
      g.now = c.in.Nil();
      return;
    }
    g.batch.TruncateThrough(stream, static_cast<uint64_t>(seq));
    g.finish = [&c, stream](const store::Status& s) {
      c.Check(s, "stream", stream);
      return c.in.Nil();
    };
  }
}

}  // namespace

PersistService::PersistService(std::string data_dir, std::string sync_mode,
                               std::string segment_bytes, bool read_only)
    : data_dir_(std::move(data_dir)),
      sync_mode_(std::move(sync_mode)),
      segment_bytes_(std::move(segment_bytes)),
      read_only_(read_only) {}

PersistService::~PersistService() = default;

void PersistService::Install(Interpreter& in) {
  in.AddBatchIoHandler(
      [this](Interpreter& in, std::span<IoRequest> batch) { HandleBatch(in, batch); });
  in.AddIoHandler([this](Interpreter& in, std::string_view op, const Value& args, const Value&) {
    return HandleOp(in, op, args);
  });
}

void PersistService::HandleBatch(Interpreter& in, std::span<IoRequest> batch) {
  size_t writes = 0;
  for (const IoRequest& q : batch) {
    if (q.result.kind == IoResult::kPass && IsWriteOp(q.op)) ++writes;
  }
  if (writes < 2) return;  // the one-at-a-time path serves it
  std::string error;
  store::Store* st = OpenStore(&error);
  if (st == nullptr) return;  // each request will report the open failure
  std::vector<GroupWrite> group;
  HwmOverlay hwm;
  auto flush = [&] {
    if (group.empty()) return;
    std::vector<const store::WriteBatch*> batches;
    for (const GroupWrite& g : group) batches.push_back(&g.batch);
    std::vector<store::Status> results;
    st->CommitGroup(batches, &results);
    for (size_t i = 0; i < group.size(); ++i) {
      GroupWrite& g = group[i];
      IoRequest& q = batch[g.index];
      if (g.retry_on_conflict && results[i].IsConflict()) {
        q.result = HandleOp(in, q.op, q.args);
        continue;
      }
      try {
        q.result = IoResult::Served(g.finish(results[i]));
      } catch (const OpFailure& f) {
        q.result = Failure(in, q.op, f.subject_kind, f.subject, f.cause);
      }
    }
    group.clear();
    hwm.clear();
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    IoRequest& q = batch[i];
    if (q.result.kind != IoResult::kPass || FindOp(q.op) == nullptr) continue;
    if (!IsWriteOp(q.op) || (!q.args.IsNil() && !q.args.IsList())) {
      flush();  // a read sees the writes before it
      q.result = HandleOp(in, q.op, q.args);
      continue;
    }
    GroupWrite g;
    g.index = i;
    g.ctx = std::make_unique<Ctx>(
        Ctx{in, q.op, q.args.IsNil() ? std::vector<Value>{} : q.args.Items(), st});
    try {
      BuildGroupWrite(g, hwm);
    } catch (const OpFailure& f) {
      q.result = Failure(in, q.op, f.subject_kind, f.subject, f.cause);
      continue;
    }
    if (g.now) {
      q.result = IoResult::Served(*g.now);
      continue;
    }
    group.push_back(std::move(g));
  }
  flush();
}

store::Store* PersistService::OpenStore(std::string* error) {
  if (store_) return store_.get();
  store::Options opts;
  opts.read_only = read_only_;
  if (sync_mode_ == "always") {
    opts.sync = store::SyncMode::kAlways;
  } else if (sync_mode_ == "batch") {
    opts.sync = store::SyncMode::kBatch;
  } else if (sync_mode_ == "never") {
    opts.sync = store::SyncMode::kNever;
  } else {
    *error = "unknown sync mode \"" + sync_mode_ + "\" (use always, batch or never)";
    return nullptr;
  }
  if (!segment_bytes_.empty()) {
    // Small segments make rolls and compactions happen on small data (tests).
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(segment_bytes_.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' ||
        !std::isdigit(static_cast<unsigned char>(segment_bytes_[0]))) {
      *error = "SX_PERSIST_SEGMENT_BYTES: \"" + segment_bytes_ + "\" is not a number of bytes";
      return nullptr;
    }
    opts.segment_bytes = n;
  }
  // Whatever recovery cuts off (a torn tail) is said, never silent; damage
  // makes the open fail and is in the error.
  opts.on_recovery_problem = [dir = data_dir_](const store::RecoveryNote& note) {
    if (note.torn_tail) {
      std::fprintf(stderr, "sx: store %s: cut off at open: %s\n", dir.c_str(),
                   note.ToString().c_str());
    }
  };
  if (store::LooksLikeRoseAshDir(opts.env ? opts.env : store::Env::Default(), data_dir_)) {
    *error = "cannot open the store at " + data_dir_ + ": " + store::RoseAshHint(data_dir_);
    return nullptr;
  }
  store::Status s = store::Store::Open(opts, data_dir_, &store_);
  if (!s.ok()) {
    *error = "cannot open the store at " + data_dir_ + ": " + s.ToString();
    store_.reset();
    return nullptr;
  }
  return store_.get();
}

void PersistService::Close() { store_.reset(); }

IoResult PersistService::HandleOp(Interpreter& in, std::string_view op, const Value& args) {
  const OpEntry* entry = nullptr;
  for (const OpEntry& e : kOps) {
    if (op == e.name) {
      entry = &e;
      break;
    }
  }
  if (entry == nullptr) return IoResult::Pass();
  auto fail = [&](const std::string& kind, const std::string& subject, const std::string& cause) {
    return Failure(in, op, kind, subject, cause);
  };
  std::string error;
  store::Store* st = nullptr;
  if (NeedsStore(op)) {
    st = OpenStore(&error);
    if (st == nullptr) return fail("", "", error);
  }
  if (!args.IsNil() && !args.IsList())
    return fail("", "", ":args must be a list, got " + args.Brief());
  Ctx c{in, op, args.IsNil() ? std::vector<Value>{} : args.Items(), st};
  try {
    return IoResult::Served(entry->fn(c));
  } catch (const OpFailure& f) {
    return fail(f.subject_kind, f.subject, f.cause);
  }
}

}  // namespace sx::host
