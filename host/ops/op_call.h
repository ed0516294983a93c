// op_call.h — one persist request being served: what the op table's plan
// and finish functions (persist_ops.cc) share with the loop that serves
// them (persist_service.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "host/backend/backend.h"
#include "host/ops/persist_ops.h"
#include "host/ops/value_codec.h"
#include "sx/sx.h"

namespace sx::host {

using backend::Status;
using store::WriteBatch;

// Raised inside an op; becomes an SX error naming the op, subject and cause.
struct OpFailure {
  std::string subject_kind;  // "stream", "key", "cid" or ""
  std::string subject;
  std::string cause;
};

// What the writes planned earlier in the round leave, assuming they land.
struct RoundView {
  std::unordered_map<std::string, uint64_t> hwm;  // streams they append to
  std::unordered_set<std::string> keys;           // keys they write
  // Last seqs read for the round's appends in one go before it was planned
  // (Backend::LastSeqs); gone with the view when a commit inside the round
  // may have moved them.
  std::unordered_map<std::string, uint64_t> last_seq;
};

struct OpCall {
  OpCall(Interpreter& in, const OpSpec& spec, std::vector<Value> args, backend::Backend* b,
         RoundView* view)
      : in(in), spec(spec), args(std::move(args)), b(b), view(view) {}

  Interpreter& in;
  const OpSpec& spec;
  std::vector<Value> args;
  backend::Backend* b;  // nullptr for ops that need none
  RoundView* view;

  // Left by plan: an answer now, or a batch and what finish needs.
  std::optional<Value> answer;
  WriteBatch batch;
  std::string subject;  // the stream or key
  uint64_t seq = 0;     // append, append-expect: the event's seq; append-batch: the last seq before
  std::optional<uint64_t> expected;     // append-batch: the expected last seq
  Value result;                         // the answer if the batch commits
  bool plan_again_on_conflict = false;  // the batch rests on the view (append-next)

  [[noreturn]] void Fail(std::string cause, std::string kind = "", std::string subj = "") const {
    throw OpFailure{std::move(kind), std::move(subj), std::move(cause)};
  }
  void Check(const Status& s, const char* kind = "", const std::string& subj = "") const {
    if (!s.ok()) Fail(s.ToString(), kind, subj);
  }
  // Arguments already checked against the table.
  std::string Str(size_t i) const { return args[i].AsString(); }
  int64_t Int(size_t i) const { return args[i].AsInt(); }
  bool Given(size_t i) const { return i < args.size(); }

  std::string Text(const Value& v, const char* kind, const std::string& subj) const {
    std::string bytes, why;
    if (!EncodeValue(in, v, &bytes, &why)) Fail("cannot store the value: " + why, kind, subj);
    return bytes;
  }
  Value Parse(const std::string& text, const char* kind, const std::string& subj) const {
    Value v;
    std::string why;
    if (!DecodeValue(in, text, &v, &why)) Fail("stored value does not parse: " + why, kind, subj);
    return v;
  }
  Value Int64(uint64_t n) const { return in.Int(static_cast<int64_t>(n)); }
  Value Conflict(const Value& expected, const Value& actual) const {
    std::pair<std::string, Value> e[] = {
        {"conflict", in.Bool(true)}, {"expected", expected}, {"actual", actual}};
    return in.Dict(e);
  }
  // The engine's hwm of stream.
  uint64_t LastSeq(const std::string& stream) const {
    auto it = view->last_seq.find(stream);
    if (it != view->last_seq.end()) return it->second;
    uint64_t seq = 0;
    Check(b->LastSeq(stream, &seq), "stream", stream);
    return seq;
  }
  // The hwm as the round's earlier writes leave it.
  uint64_t RoundHwm(const std::string& stream) const {
    auto it = view->hwm.find(stream);
    return it != view->hwm.end() ? it->second : LastSeq(stream);
  }
  // True when no earlier write of the round touched stream: a check made
  // now against the engine holds at commit.
  bool Untouched(const std::string& stream) const { return view->hwm.count(stream) == 0; }
  // The key's stored bytes; nullopt when absent.
  std::optional<std::string> CurrentText(const std::string& key) const {
    std::string text;
    Status s = b->KvGet(key, &text);
    if (s.IsNotFound()) return std::nullopt;
    Check(s, "key", key);
    return text;
  }
  Value CurrentValue(const std::string& key) const {
    std::optional<std::string> cur = CurrentText(key);
    return cur ? Parse(*cur, "key", key) : in.Nil();
  }
};

}  // namespace sx::host
