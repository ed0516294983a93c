// persist_ops.cc — the persist/* and blob/* ops: the plan and finish of
// each, and the table that declares them (kOps, at the end). Served by
// persist_service.cc.
//
// A write op's plan reads what it must through the round's view
// (RoundView): the hwm a stream will have once the writes planned before it
// land. Its checks are expressed in the batch (AppendExpect, KvCas), so the
// engine makes them as it commits, each against the state the earlier
// batches leave; a refused one is that request's conflict.
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "host/ops/op_call.h"
#include "host/store/cid.h"

namespace sx::host {

namespace {

// --- events and seqs ---------------------------------------------------------------------

// An event's time: an integer (what the library's queries compare), or nil.
void CheckAt(const OpCall& c, const Value& at, const char* what, const std::string& stream) {
  if (!at.IsNil() && !at.IsInt()) {
    c.Fail(std::string(what) + " must be an integer, got " + at.Brief(), "stream", stream);
  }
}

// The event's :seq, checked, after its :stream (when it has one) is checked
// to name the stream it is appended to and its :at to be an integer.
uint64_t EventSeq(const OpCall& c, const Value& event, const std::string& stream) {
  if (!event.IsDict()) c.Fail("the event must be a dict, got " + event.Brief(), "stream", stream);
  Value own = event.Get("stream");
  if (!own.IsNil() && !(own.IsString() && own.AsString() == stream)) {
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

void CheckRoom(const OpCall& c, const std::string& stream, uint64_t last) {
  if (last >= kMaxSeq) {
    c.Fail("stream is full: its last seq is " + std::to_string(kMaxSeq) + ", the largest there is",
           "stream", stream);
  }
}

Value ReadEvents(const OpCall& c, const std::string& stream, uint64_t from, size_t limit) {
  std::vector<backend::Event> events;
  c.Check(c.b->Read(stream, from, limit, &events), "stream", stream);
  // One builder for the whole answer: the events are decoded straight into
  // the list, without a handle each.
  ValueBuilder vb(c.in);
  std::string why;
  for (const backend::Event& e : events) {
    if (!DecodeInto(c.in, vb, e.payload, &why)) {
      c.Fail("stored value does not parse: " + why, "stream", stream);
    }
  }
  vb.List(events.size());
  return vb.Take();
}

Value StringList(Interpreter& in, const std::vector<std::string>& names) {
  std::vector<Value> items;
  items.reserve(names.size());
  for (const std::string& n : names) items.push_back(in.String(n));
  return in.List(items);
}

uint64_t NonNegative(int64_t n) { return static_cast<uint64_t>(std::max<int64_t>(0, n)); }

// --- the reference ops -------------------------------------------------------------------

void PlanAppend(OpCall& c) {
  c.subject = c.Str(0);
  c.seq = EventSeq(c, c.args[1], c.subject);
  c.batch.Append(c.subject, c.seq, c.Text(c.args[1], "stream", c.subject));
  uint64_t& hwm = c.view->hwm[c.subject];  // what the append leaves, if it lands
  hwm = std::max(hwm, c.seq);
}

// The error for an append of c.seq refused as not above the hwm `last`.
[[noreturn]] void SeqConflict(const OpCall& c, uint64_t last) {
  CheckRoom(c, c.subject, last);
  c.Fail("conflict: seq " + std::to_string(c.seq) + " is not above the last seq " +
             std::to_string(last) + " (expected " + std::to_string(last + 1) + ")",
         "stream", c.subject);
}

Value FinishAppend(OpCall& c, const Status& s) {
  if (s.IsConflict()) SeqConflict(c, s.actual());
  c.Check(s, "stream", c.subject);
  return c.args[1];
}

void PlanRead(OpCall& c) {
  uint64_t from = c.Given(1) ? NonNegative(c.Int(1)) : 0;
  size_t limit = c.Given(2) ? static_cast<size_t>(NonNegative(c.Int(2))) : SIZE_MAX;
  c.answer = ReadEvents(c, c.Str(0), from, limit);
}

void PlanReadRange(OpCall& c) {
  std::string stream = c.Str(0);
  if (c.Int(2) < 0) c.Fail("limit must not be negative", "stream", stream);
  c.answer = ReadEvents(c, stream, NonNegative(c.Int(1)), static_cast<size_t>(c.Int(2)));
}

void PlanLastSeq(OpCall& c) { c.answer = c.Int64(c.LastSeq(c.Str(0))); }

void PlanTruncateThrough(OpCall& c) {
  c.subject = c.Str(0);
  if (c.Int(1) <= 0) {
    c.answer = c.in.Nil();
    return;
  }
  c.batch.TruncateThrough(c.subject, static_cast<uint64_t>(c.Int(1)));
}

// The answer of the writes that answer nil (truncate-through, kv-delete).
Value FinishNil(OpCall& c, const Status& s) {
  c.Check(s, c.spec.args[0].name, c.subject);
  return c.in.Nil();
}

void PlanStreams(OpCall& c) {
  std::vector<std::string> names;
  c.Check(c.b->Streams(&names));
  c.answer = StringList(c.in, names);
}

void PlanKvGet(OpCall& c) {
  std::string key = c.Str(0);
  std::optional<std::string> text = c.CurrentText(key);
  c.answer = text ? c.Parse(*text, "key", key) : c.in.Nil();
}

void PlanKvPut(OpCall& c) {
  c.subject = c.Str(0);
  c.batch.KvPut(c.subject, c.Text(c.args[1], "key", c.subject));
  c.view->keys.insert(c.subject);
  c.result = c.args[1];
}

// The answer of the writes that answer a value given (kv-put, kv-cas, ...).
Value FinishResult(OpCall& c, const Status& s) {
  c.Check(s, "key", c.subject);
  return c.result;
}

void PlanKvDelete(OpCall& c) {
  c.subject = c.Str(0);
  c.batch.KvDelete(c.subject);
  c.view->keys.insert(c.subject);
}

void PlanKvHas(OpCall& c) {
  bool has = false;
  c.Check(c.b->KvHas(c.Str(0), &has), "key", c.Str(0));
  c.answer = c.in.Bool(has);
}

void PlanKvKeys(OpCall& c) {
  std::vector<std::string> keys;
  c.Check(c.b->KvKeys(&keys));
  c.answer = StringList(c.in, keys);
}

void PlanBlobPut(OpCall& c) {
  std::string cid;
  c.Check(c.b->BlobPut(c.Str(0), &cid));
  c.answer = c.in.String(cid);
}

void PlanBlobGet(OpCall& c) {
  std::string cid = c.Str(0), bytes;
  Status s = c.b->BlobGet(cid, &bytes);
  if (s.IsNotFound()) {
    c.answer = c.in.Nil();
    return;
  }
  c.Check(s, "cid", cid);
  c.answer = c.in.String(bytes);
}

void PlanBlobHas(OpCall& c) {
  bool has = false;
  c.Check(c.b->BlobHas(c.Str(0), &has), "cid", c.Str(0));
  c.answer = c.in.Bool(has);
}

// --- atomic ops beyond the reference -----------------------------------------------------

// (stream type at data): the event numbered hwm + 1, in one round trip.
void PlanAppendNext(OpCall& c) {
  std::string stream = c.Str(0);
  CheckAt(c, c.args[2], ":at", stream);
  uint64_t last = c.RoundHwm(stream);
  CheckRoom(c, stream, last);
  std::pair<std::string, Value> e[] = {{"stream", c.args[0]},
                                       {"seq", c.Int64(last + 1)},
                                       {"type", c.args[1]},
                                       {"at", c.args[2]},
                                       {"data", c.args[3]}};
  c.result = c.in.Dict(e);
  c.subject = stream;
  c.batch.AppendExpect(stream, last, last + 1, c.Text(c.result, "stream", stream));
  c.view->hwm[stream] = last + 1;
  c.plan_again_on_conflict = true;
}

Value FinishAppendNext(OpCall& c, const Status& s) {
  c.Check(s, "stream", c.subject);
  return c.result;
}

// The conflict of an expected last seq that is not the stream's, found
// before anything is planned; nullopt when the check must wait for the
// commit (an earlier write of the round touches the stream).
std::optional<Value> ExpectedNow(OpCall& c, const std::string& stream, size_t arg) {
  int64_t expected = c.Int(arg);
  if (expected < 0) return c.Conflict(c.args[arg], c.Int64(c.RoundHwm(stream)));
  if (!c.Untouched(stream)) return std::nullopt;
  uint64_t actual = c.LastSeq(stream);
  if (static_cast<uint64_t>(expected) != actual) return c.Conflict(c.args[arg], c.Int64(actual));
  return std::nullopt;
}

// (stream expected event): the event, or a conflict when the last seq is not expected.
void PlanAppendExpect(OpCall& c) {
  c.subject = c.Str(0);
  if ((c.answer = ExpectedNow(c, c.subject, 1))) return;
  uint64_t expected = static_cast<uint64_t>(c.Int(1));
  CheckRoom(c, c.subject, expected);
  c.seq = EventSeq(c, c.args[2], c.subject);
  c.batch.AppendExpect(c.subject, expected, c.seq, c.Text(c.args[2], "stream", c.subject));
  c.view->hwm[c.subject] = c.seq;
}

Value FinishAppendExpect(OpCall& c, const Status& s) {
  if (s.IsConflict() && s.actual() != static_cast<uint64_t>(c.Int(1))) {
    return c.Conflict(c.args[1], c.Int64(s.actual()));
  }
  if (s.IsConflict()) SeqConflict(c, s.actual());
  c.Check(s, "stream", c.subject);
  return c.args[2];
}

// (stream events [expected]): all the events or none.
void PlanAppendBatch(OpCall& c) {
  c.subject = c.Str(0);
  if (c.Given(2)) {
    if ((c.answer = ExpectedNow(c, c.subject, 2))) return;
    c.expected = static_cast<uint64_t>(c.Int(2));
  }
  c.seq = c.RoundHwm(c.subject);  // the last seq the batch must rise above
  bool first = true;
  for (const Value& ev : c.args[1].Items()) {
    uint64_t seq = EventSeq(c, ev, c.subject);
    std::string text = c.Text(ev, "stream", c.subject);
    if (first && c.expected) {
      c.batch.AppendExpect(c.subject, *c.expected, seq, std::move(text));
    } else {
      c.batch.Append(c.subject, seq, std::move(text));
    }
    first = false;
    c.view->hwm[c.subject] = seq;
  }
  if (c.batch.empty()) c.answer = c.args[1];
}

Value FinishAppendBatch(OpCall& c, const Status& s) {
  if (s.IsConflict()) {
    if (c.expected && s.actual() != *c.expected) return c.Conflict(c.args[2], c.Int64(s.actual()));
    CheckRoom(c, c.subject, s.actual());
    c.Fail("conflict: the batch's seqs must rise above the last seq " + std::to_string(c.seq),
           "stream", c.subject);
  }
  c.Check(s, "stream", c.subject);
  return c.args[1];
}

// (key expected new): new, when the key's value is equal? to expected (nil
// matches an absent key), else a conflict whose :actual is the value.
void PlanKvCas(OpCall& c) {
  c.subject = c.Str(0);
  const std::string& key = c.subject;
  std::string want = c.Text(c.args[1], "key", key);
  std::optional<std::string> cur = c.CurrentText(key);
  std::optional<std::string> expected;
  if (cur && StoredValueIs(c.in, *cur, want)) {
    expected = cur;  // as stored, text or binary; a stored nil matches nil
  } else if (!c.args[1].IsNil()) {
    expected = std::move(want);
  }
  if (c.view->keys.count(key) == 0 && expected != cur) {
    c.answer = c.Conflict(c.args[1], cur ? c.Parse(*cur, "key", key) : c.in.Nil());
    return;
  }
  c.batch.KvCas(key, expected, c.Text(c.args[2], "key", key));
  c.view->keys.insert(key);
  c.result = c.args[2];
}

Value FinishKvCas(OpCall& c, const Status& s) {
  if (s.IsConflict()) return c.Conflict(c.args[1], c.CurrentValue(c.subject));
  return FinishResult(c, s);
}

Value Exists(OpCall& c, const Value& actual) {
  std::pair<std::string, Value> e[] = {
      {"conflict", c.in.Bool(true)}, {"reason", c.in.String("exists")}, {"actual", actual}};
  return c.in.Dict(e);
}

// (key value): value, stored only when the key is absent.
void PlanKvPutNew(OpCall& c) {
  c.subject = c.Str(0);
  if (c.view->keys.count(c.subject) == 0) {
    std::optional<std::string> cur = c.CurrentText(c.subject);
    if (cur) {
      c.answer = Exists(c, c.Parse(*cur, "key", c.subject));
      return;
    }
  }
  c.batch.KvCas(c.subject, std::nullopt, c.Text(c.args[1], "key", c.subject));
  c.view->keys.insert(c.subject);
  c.result = c.args[1];
}

Value FinishKvPutNew(OpCall& c, const Status& s) {
  if (s.IsConflict()) return Exists(c, c.CurrentValue(c.subject));
  return FinishResult(c, s);
}

// What a check that the key holds `encoded` must compare with: the bytes as
// stored when they hold that value (a store written before the binary
// encoding holds text), else `encoded`.
std::string StoredForm(const OpCall& c, const std::string& key, std::string encoded) {
  std::optional<std::string> cur = c.CurrentText(key);
  if (cur && StoredValueIs(c.in, *cur, encoded)) return *cur;
  return encoded;
}

// (writes): a list of write dicts committed together, all or none:
//   {:op "append" :stream s :event e}          {:op "kv-put" :key k :value v}
//   {:op "append-expect" :stream s :expected n :event e}
//   {:op "kv-delete" :key k}                    {:op "kv-cas" :key k :expected x :value v}
//   {:op "truncate" :stream s :seq n}
// Answers true, or the conflict value of the first check that failed.
void PlanCommit(OpCall& c) {
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
        CheckRoom(c, stream, c.LastSeq(stream));
        c.batch.Append(stream, seq, c.Text(ev, "stream", stream));
      } else {
        int64_t expected = field_int("expected");
        if (expected < 0) c.Fail("append-expect: :expected must not be negative", "stream", stream);
        CheckRoom(c, stream, static_cast<uint64_t>(expected));
        c.batch.AppendExpect(stream, static_cast<uint64_t>(expected), seq,
                             c.Text(ev, "stream", stream));
      }
      c.view->hwm[stream] = seq;
    } else if (kind == "kv-put") {
      std::string key = field_str("key");
      c.batch.KvPut(key, c.Text(w.Get("value"), "key", key));
      c.view->keys.insert(key);
    } else if (kind == "kv-delete") {
      std::string key = field_str("key");
      c.batch.KvDelete(key);
      c.view->keys.insert(key);
    } else if (kind == "kv-cas") {
      std::string key = field_str("key");
      Value expected = w.Get("expected");
      std::optional<std::string> exp;
      if (!expected.IsNil()) exp = StoredForm(c, key, c.Text(expected, "key", key));
      c.batch.KvCas(key, exp, c.Text(w.Get("value"), "key", key));
      c.view->keys.insert(key);
    } else if (kind == "truncate") {
      c.batch.TruncateThrough(field_str("stream"), NonNegative(field_int("seq")));
    } else {
      c.Fail("unknown write op " + w.Get("op").Brief());
    }
  }
  if (c.batch.empty()) c.answer = c.in.Bool(true);
}

// The conflict of the first kv-cas of the writes whose check fails, with
// the value it expected and the key's value as the writes before it leave
// it; nil when none fails (the engine refused the batch for another reason).
std::optional<Value> KvCasConflict(const OpCall& c) {
  std::unordered_map<std::string, std::optional<std::string>> written;  // key -> bytes or absent
  for (const WriteBatch::Op& op : c.batch.ops()) {
    if (op.kind != WriteBatch::OpKind::kKvPut && op.kind != WriteBatch::OpKind::kKvDelete &&
        op.kind != WriteBatch::OpKind::kKvCas) {
      continue;
    }
    auto it = written.find(op.name);
    std::optional<std::string> current = it != written.end() ? it->second : c.CurrentText(op.name);
    if (op.kind == WriteBatch::OpKind::kKvCas && current != op.expected) {
      std::pair<std::string, Value> e[] = {
          {"conflict", c.in.Bool(true)},
          {"expected", op.expected ? c.Parse(*op.expected, "key", op.name) : c.in.Nil()},
          {"actual", current ? c.Parse(*current, "key", op.name) : c.in.Nil()}};
      return c.in.Dict(e);
    }
    written[op.name] = op.kind == WriteBatch::OpKind::kKvDelete ? std::nullopt : op.value;
  }
  return std::nullopt;
}

Value FinishCommit(OpCall& c, const Status& s) {
  // An append to a full stream could not be placed (the engine then expects
  // a seq past kMaxSeq): an error, not a conflict.
  if (s.IsConflict() && s.expected() > kMaxSeq) {
    c.Fail("stream is full: an append to a stream whose last seq is " + std::to_string(kMaxSeq));
  }
  // A refused append says its numbers (expected hwm + 1 or the expected last
  // seq, and the hwm, never both 0); a refused kv-cas says none.
  if (s.IsConflict() && s.expected() == 0 && s.actual() == 0) {
    if (std::optional<Value> kv = KvCasConflict(c)) return *kv;
  }
  if (s.IsConflict()) return c.Conflict(c.Int64(s.expected()), c.Int64(s.actual()));
  c.Check(s);
  return c.in.Bool(true);
}

void PlanSync(OpCall& c) {
  c.Check(c.b->Sync());
  c.answer = c.in.Nil();
}

void PlanStats(OpCall& c) {
  backend::Stats stats;
  c.Check(c.b->GetStats(&stats));
  std::vector<std::pair<std::string, Value>> e;
  e.reserve(stats.size() + 1);
  e.emplace_back("engine", c.in.String(c.b->kind()));
  for (const auto& [name, n] : stats) e.emplace_back(name, c.Int64(n));
  c.answer = c.in.Dict(e);
}

void PlanCompact(OpCall& c) {
  c.Check(c.b->Compact());
  c.answer = c.in.Nil();
}

void PlanOps(OpCall& c) {
  std::vector<std::string> names;
  for (const OpSpec& op : PersistOps()) names.emplace_back(op.name);
  c.answer = StringList(c.in, names);
}

// {:position p :blocking b}. Blocks only where another process can commit
// (Backend::SeesOtherWriters): in a writer's own process no commit can come
// while the host waits, so it answers at once and the caller sleeps as a task.
void PlanWait(OpCall& c) {
  const Value& token = c.args[0];
  if (!token.IsNil() && !token.IsInt())
    c.Fail("token must be nil or an integer, got " + token.Brief());
  int64_t timeout = c.Int(1);
  if (timeout < 0 || timeout > kMaxWaitMs) {
    c.Fail("timeout-ms must be an integer from 0 to 60000, got " + c.args[1].Brief());
  }
  uint64_t position = 0;
  c.Check(c.b->CommitPosition(&position));
  bool blocking = c.b->SeesOtherWriters();
  if (blocking && token.IsInt() && token.AsInt() >= 0 &&
      position == static_cast<uint64_t>(token.AsInt()) && timeout > 0) {
    c.Check(c.b->WaitForCommit(position, static_cast<int>(timeout), &position));
  }
  std::pair<std::string, Value> e[] = {{"position", c.Int64(position)},
                                       {"blocking", c.in.Bool(blocking)}};
  c.answer = c.in.Dict(e);
}

void PlanBlobCid(OpCall& c) { c.answer = c.in.String(store::CidForBytes(c.Str(0))); }

// --- the table ---------------------------------------------------------------------------

constexpr ArgKind S = ArgKind::kString, I = ArgKind::kInt, L = ArgKind::kList,
                  N = ArgKind::kStringOrNil, A = ArgKind::kAny;
constexpr bool O = true;  // optional
constexpr OpMode R = OpMode::kRead, W = OpMode::kWrite, WA = OpMode::kWriteAlone, P = OpMode::kPure;

// clang-format off
const OpSpec kOps[] = {
  // The reference ops.
  {"persist/append", W, {{"stream", S}, {"event", A}},
   "the event, appended; its :seq must be above the stream's last seq", PlanAppend, FinishAppend},
  {"persist/read", R, {{"stream", S}, {"from", I, O}, {"limit", I, O}},
   "the stored events with seq >= from, oldest first, at most limit", PlanRead, nullptr},
  {"persist/last-seq", R, {{"stream", S}},
   "the stream's high-water mark; 0 if never appended to", PlanLastSeq, nullptr},
  {"persist/truncate-through", W, {{"stream", S}, {"seq", I}},
   "nil, the events with seq <= seq dropped; the mark stays", PlanTruncateThrough, FinishNil},
  {"persist/streams", R, {}, "every stream ever appended to, sorted", PlanStreams, nullptr},
  {"persist/kv-get", R, {{"key", S}}, "the key's value, or nil", PlanKvGet, nullptr},
  {"persist/kv-put", W, {{"key", S}, {"value", A}}, "the value, stored", PlanKvPut, FinishResult},
  {"persist/kv-delete", W, {{"key", S}}, "nil, the key deleted (absent is fine)", PlanKvDelete,
   FinishNil},
  {"persist/kv-has?", R, {{"key", S}}, "whether the key is present", PlanKvHas, nullptr},
  {"persist/kv-keys", R, {}, "every key, sorted", PlanKvKeys, nullptr},
  {"blob/put", WA, {{"bytes", S}, {"mime", N, O}}, "the cid of the bytes, stored once",
   PlanBlobPut, nullptr},
  {"blob/get", R, {{"cid", S}}, "the blob's bytes, or nil", PlanBlobGet, nullptr},
  {"blob/has?", R, {{"cid", S}}, "whether the blob is stored", PlanBlobHas, nullptr},
  // Atomic ops beyond the reference.
  {"persist/append-next", W, {{"stream", S}, {"type", A}, {"at", A}, {"data", A}},
   "the event stored with seq last-seq + 1", PlanAppendNext, FinishAppendNext},
  {"persist/append-expect", W, {{"stream", S}, {"expected", I}, {"event", A}},
   "the event, or a conflict when the last seq is not expected", PlanAppendExpect,
   FinishAppendExpect},
  {"persist/append-batch", W, {{"stream", S}, {"events", L}, {"expected", I, O}},
   "the events, all appended or none; a conflict when the stream moved", PlanAppendBatch,
   FinishAppendBatch},
  {"persist/kv-cas", W, {{"key", S}, {"expected", A}, {"new", A}},
   "new, when the value is expected; else a conflict", PlanKvCas, FinishKvCas},
  {"persist/kv-put-new", W, {{"key", S}, {"value", A}},
   "the value, stored only when the key is absent; else a conflict", PlanKvPutNew, FinishKvPutNew},
  {"persist/commit", W, {{"writes", L}},
   "true, every write committed; or the conflict of the first check that failed", PlanCommit,
   FinishCommit},
  {"persist/read-range", R, {{"stream", S}, {"from", I}, {"limit", I}},
   "at most limit events with seq >= from", PlanReadRange, nullptr},
  {"persist/sync", WA, {}, "nil, everything written on stable storage", PlanSync, nullptr},
  {"persist/stats", R, {}, "the engine's counters, as a dict", PlanStats, nullptr},
  {"persist/compact", WA, {}, "nil, dead space reclaimed", PlanCompact, nullptr},
  {"persist/ops", P, {}, "the names of every op served", PlanOps, nullptr},
  {"persist/wait", R, {{"token", A}, {"timeout-ms", I}},
   "{:position p :blocking b}; blocks until p passes token where others commit", PlanWait, nullptr},
  {"blob/cid", P, {{"bytes", S}}, "the cid blob/put would give the bytes, without storing them",
   PlanBlobCid, nullptr},
};
// clang-format on

}  // namespace

std::span<const OpSpec> PersistOps() { return kOps; }

}  // namespace sx::host
