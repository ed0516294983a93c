// machine_ops.cc — natives that call SX functions: map, filter, reduce, ...
//
// Each is a small state machine over a frame of its own instead of a C++
// loop, so the callback runs in the machine like any other call and a
// `perform` inside it suspends the whole computation. ApplyOp starts an op:
// it either finishes at once or sets up the first callback at vals[op_base_]
// under a frame whose x/y hold the function and what is left of the input.
// OpReturn receives each callback's result. An op's frame is part of the
// activation that applied the op, and its env is that activation's frame:
// a callback that returns without a frame of its own (a native, a keyword,
// another op) returns with that env still current, and the machine must not
// take it for a finished call's frame (see Machine::Run's do_return).
#include <algorithm>
#include <numeric>

#include "interp/dict.h"
#include "interp/equal.h"
#include "interp/machine_internal.h"

namespace sx::interp {

namespace {

// nil counts as the empty list for the sequence functions.
Value SeqArg(State& S, const char* fn, int index, Value v) {
  if (v.IsNil()) return Value::EmptyList();
  if (!IsList(v)) {
    ThrowError(S, std::string(fn) + ": argument " + std::to_string(index) +
                      " must be a list, got " + Brief(S, v));
  }
  return v;
}

Value CheckFn(State& S, const char* fn, int index, Value v) {
  if (!IsCallable(v) && !IsKeyword(v)) {
    ThrowError(S, std::string(fn) + ": argument " + std::to_string(index) +
                      " must be a function, got " + Brief(S, v));
  }
  return v;
}

Value QqList(const Args& a) { return a.S.heap.ListFrom(a.v, a.n); }

Value QqConcat(const Args& a) {
  std::vector<Value> items;
  for (int i = 0; i < a.n; ++i) {
    Value l = a[i];
    if (l.IsNil()) continue;
    if (!IsList(l)) a.Fail(i, "a list (for ,@)");
    for (; IsPair(l); l = Cdr(l)) items.push_back(Car(l));
  }
  return a.S.heap.ListFrom(items.data(), items.size());
}

// Stable sort by the total order of Compare.
Value SortNative(const Args& a) {
  Value l = SeqArg(a.S, "sort", 1, a[0]);
  std::vector<Value> items;
  for (; IsPair(l); l = Cdr(l)) items.push_back(Car(l));
  State& S = a.S;
  std::stable_sort(items.begin(), items.end(),
                   [&S](Value x, Value y) { return Compare(S, x, y) < 0; });
  return S.heap.ListFrom(items.data(), items.size());
}

#define SX_OP(name, min, max, doc) \
  { name, min, max, nullptr, doc, 0 }

const NativeSpec kOps[] = {
    SX_OP("map", 2, -1,
          "(map f list...) — a list of (f x) for each x; with several lists, f takes one "
          "element of each and the shortest list ends it."),
    SX_OP("filter", 2, 2, "(filter pred list) — the elements for which (pred x) is truthy."),
    SX_OP("reduce", 2, 3,
          "(reduce f init list) — folds left, calling (f acc x); (reduce f list) starts from "
          "the first element."),
    SX_OP("for-each", 2, 2, "(for-each f list) — calls (f x) for each element; returns nil."),
    SX_OP("some", 2, 2, "(some pred list) — the first truthy (pred x), or nil."),
    SX_OP("every?", 2, 2, "(every? pred list) — true when (pred x) is truthy for every x."),
    SX_OP("apply", 2, -1,
          "(apply f a b ... list) — calls f with a, b, ... and the list's elements."),
    SX_OP("sort-by", 2, 2,
          "(sort-by key list) — the list stably sorted by (key x), compared like `sort`."),
    SX_OP("update", 3, -1,
          "(update dict key f args...) — dict with key set to (f (get dict key) args...)."),
    SX_OP("eval", 1, 1,
          "(eval form) — evaluates form at top level; (eval text) reads every form of the "
          "string and evaluates them in order. Returns the last value."),
};
const MachineOp kOpCodes[] = {MachineOp::kMap,     MachineOp::kFilter, MachineOp::kReduce,
                              MachineOp::kForEach, MachineOp::kSome,   MachineOp::kEvery,
                              MachineOp::kApply,   MachineOp::kSortBy, MachineOp::kUpdate,
                              MachineOp::kEval};

const NativeSpec kInternal[] = {
    {"%qq-list", 0, -1, QqList, "Builds a list (quasiquote).", kNativePure},
    {"%qq-concat", 0, -1, QqConcat, "Concatenates lists (quasiquote splicing).", kNativePure},
    {"%sort", 1, 1, SortNative, "(%sort list) — stable sort by the natural order.", kNativePure},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

}  // namespace

void Machine::InstallOps() {
  for (size_t i = 0; i < sizeof(kOps) / sizeof(kOps[0]); ++i) {
    Value v = S_.MakeNative(&kOps[i]);
    v.AsObj()->aux = static_cast<uint32_t>(kOpCodes[i]);
    S_.DefineGlobal(kOps[i].name, v);
  }
  S_.DefineNatives(kInternal);
  InstallTaskOps();
  const std::pair<const char*, FastOp> fast[] = {{"+", kFastAdd}, {"-", kFastSub}, {"*", kFastMul},
                                                 {"<", kFastLt},  {">", kFastGt},  {"<=", kFastLe},
                                                 {">=", kFastGe}, {"=", kFastEq}};
  for (const auto& [name, op] : fast) {
    Value v = S_.GlobalValue(name);
    if (IsType(v, ObjType::kNative)) v.AsObj()->flags = op;
  }
}

// Sets up a call of fn on one or two arguments at the top of vals.
#define SX_CALL1(fn, arg)   \
  do {                      \
    op_base_ = vals.size(); \
    vals.push_back(fn);     \
    vals.push_back(arg);    \
  } while (0)
#define SX_CALL2(fn, arg1, arg2) \
  do {                           \
    op_base_ = vals.size();      \
    vals.push_back(fn);          \
    vals.push_back(arg1);        \
    vals.push_back(arg2);        \
  } while (0)

bool Machine::ApplyOp(MachineLoop& L, Native* nat, size_t base, Env* env, Value* val) {
  auto& vals = L.vals;
  const NativeSpec* spec = nat->spec;
  size_t argc = vals.size() - base - 1;
  if (static_cast<int>(argc) < spec->min_args ||
      (spec->max_args >= 0 && static_cast<int>(argc) > spec->max_args)) {
    ThrowError(S_, std::string(spec->name) + ": expected " +
                       (spec->max_args < 0 ? "at least " : "") + std::to_string(spec->min_args) +
                       " arguments, got " + std::to_string(argc));
  }
  const char* name = spec->name;
  uint32_t b = static_cast<uint32_t>(base);
  switch (OpOf(nat)) {
    case MachineOp::kMap: {
      Value f = CheckFn(S_, name, 1, vals[base + 1]);
      if (argc == 2) {
        Value l = SeqArg(S_, name, 2, vals[base + 2]);
        vals.resize(base);
        if (!IsPair(l)) {
          *val = Value::EmptyList();
          return true;
        }
        L.Push(FrameKind::kMap, L.cur_call, env, 0, b, f, Cdr(l));
        SX_CALL1(f, Car(l));
        return false;
      }
      std::vector<Value> lists;
      for (size_t i = 2; i <= argc; ++i) {
        lists.push_back(SeqArg(S_, name, static_cast<int>(i), vals[base + i]));
      }
      vals.resize(base);
      Value rest = S_.heap.ListFrom(lists.data(), lists.size());
      L.Push(FrameKind::kMap2, L.cur_call, env, 0, b, f, rest);
      Value r;
      if (OpReturn(L, &r)) {
        // Some list was empty: no call at all. OpReturn pushed nothing.
        *val = r;
        return true;
      }
      return false;
    }
    case MachineOp::kFilter:
    case MachineOp::kForEach:
    case MachineOp::kSome:
    case MachineOp::kEvery:
    case MachineOp::kSortBy: {
      MachineOp op = OpOf(nat);
      Value f = CheckFn(S_, name, 1, vals[base + 1]);
      Value l = SeqArg(S_, name, 2, vals[base + 2]);
      vals.resize(base);
      if (!IsPair(l)) {
        *val = op == MachineOp::kEvery                                ? Value::True()
               : op == MachineOp::kFilter || op == MachineOp::kSortBy ? Value::EmptyList()
                                                                      : Value::Nil();
        return true;
      }
      FrameKind kind = op == MachineOp::kFilter    ? FrameKind::kFilter
                       : op == MachineOp::kForEach ? FrameKind::kForEach
                       : op == MachineOp::kSome    ? FrameKind::kSome
                       : op == MachineOp::kEvery   ? FrameKind::kEvery
                                                   : FrameKind::kSortBy;
      // Filter and sort-by keep the current element at the head of y;
      // sort-by keeps the whole input in i/base bookkeeping via x.
      if (kind == FrameKind::kSortBy) {
        L.Push(kind, L.cur_call, env, 0, b, f, l);
        // y walks the list; the original stays reachable from the frame's
        // node-less slot through x/y: store it on vals below the keys.
        vals.push_back(l);
        L.frames.back().base = b + 1;
        SX_CALL1(f, Car(l));
        return false;
      }
      Value y = kind == FrameKind::kFilter ? l : Cdr(l);
      L.Push(kind, L.cur_call, env, 0, b, f, y);
      SX_CALL1(f, Car(l));
      return false;
    }
    case MachineOp::kReduce: {
      Value f = CheckFn(S_, name, 1, vals[base + 1]);
      Value acc, l;
      if (argc == 3) {
        acc = vals[base + 2];
        l = SeqArg(S_, name, 3, vals[base + 3]);
      } else {
        l = SeqArg(S_, name, 2, vals[base + 2]);
        if (!IsPair(l)) ThrowError(S_, "reduce: an empty list needs an initial value");
        acc = Car(l);
        l = Cdr(l);
      }
      vals.resize(base);
      if (!IsPair(l)) {
        *val = acc;
        return true;
      }
      L.Push(FrameKind::kReduce, L.cur_call, env, 0, b, f, Cdr(l));
      SX_CALL2(f, acc, Car(l));
      acc_handover_ = true;
      return false;
    }
    case MachineOp::kApply: {
      Value f = vals[base + 1];
      Value last = vals[base + argc];
      if (!last.IsNil() && !IsList(last)) {
        ThrowError(S_, "apply: the last argument must be a list, got " + Brief(S_, last));
      }
      // Shift f and the fixed arguments down over `apply` itself.
      for (size_t i = 0; i + 1 < argc; ++i) vals[base + i] = vals[base + 1 + i];
      vals.resize(base + argc - 1);
      (void)f;
      for (Value p = last; IsPair(p); p = Cdr(p)) vals.push_back(Car(p));
      op_base_ = base;
      return false;
    }
    case MachineOp::kUpdate: {
      Value d = vals[base + 1];
      if (!d.IsNil() && !IsDict(d)) {
        ThrowError(S_, "update: argument 1 must be a dict, got " + Brief(S_, d));
      }
      Value k = vals[base + 2];
      String* key = IsString(k) ? AsString(k) : IsKeyword(k) ? AsKeyword(k)->name : nullptr;
      if (key == nullptr) {
        ThrowError(S_, "update: argument 2 must be a string or keyword key, got " + Brief(S_, k));
      }
      Value f = CheckFn(S_, name, 3, vals[base + 3]);
      if (d.IsNil()) d = DictEmpty(S_.heap);
      Value cur = DictGet(d, key);
      if (cur.IsUndefined()) cur = Value::Nil();
      std::vector<Value> extra(vals.begin() + base + 4, vals.end());
      vals.resize(base);
      L.Push(FrameKind::kUpdate, L.cur_call, env, 0, b, d, Value::Object(key));
      op_base_ = vals.size();
      vals.push_back(f);
      vals.push_back(cur);
      for (Value e : extra) vals.push_back(e);
      return false;
    }
    default:
      ThrowError(S_, std::string(name) + ": unknown machine operation");
  }
}

bool Machine::OpReturn(MachineLoop& L, Value* val) {
  auto& vals = L.vals;
  auto& frames = L.frames;
  Frame& f = frames.back();
  switch (f.kind) {
    case FrameKind::kMap: {
      vals.push_back(*val);
      if (!IsPair(f.y)) {
        size_t b = f.base;
        *val = S_.heap.ListFrom(vals.data() + b, vals.size() - b);
        vals.resize(b);
        frames.pop_back();
        return true;
      }
      Value x = Car(f.y);
      f.y = Cdr(f.y);
      SX_CALL1(f.x, x);
      return false;
    }
    case FrameKind::kMap2: {
      // f.i counts results; the first entry comes from ApplyOp with no result.
      if (f.i > 0) vals.push_back(*val);
      ++f.i;
      std::vector<Value> cars, cdrs;
      bool done = false;
      for (Value p = f.y; IsPair(p); p = Cdr(p)) {
        Value l = Car(p);
        if (!IsPair(l)) {
          done = true;
          break;
        }
        cars.push_back(Car(l));
        cdrs.push_back(Cdr(l));
      }
      if (done) {
        size_t b = f.base;
        *val = S_.heap.ListFrom(vals.data() + b, vals.size() - b);
        vals.resize(b);
        frames.pop_back();
        return true;
      }
      f.y = S_.heap.ListFrom(cdrs.data(), cdrs.size());
      op_base_ = vals.size();
      vals.push_back(f.x);
      for (Value c : cars) vals.push_back(c);
      return false;
    }
    case FrameKind::kFilter: {
      if (val->Truthy()) vals.push_back(Car(f.y));
      f.y = Cdr(f.y);
      if (!IsPair(f.y)) {
        size_t b = f.base;
        *val = S_.heap.ListFrom(vals.data() + b, vals.size() - b);
        vals.resize(b);
        frames.pop_back();
        return true;
      }
      SX_CALL1(f.x, Car(f.y));
      return false;
    }
    case FrameKind::kForEach:
    case FrameKind::kSome:
    case FrameKind::kEvery: {
      if (f.kind == FrameKind::kSome && val->Truthy()) {
        frames.pop_back();
        return true;
      }
      if (f.kind == FrameKind::kEvery && !val->Truthy()) {
        *val = Value::False();
        frames.pop_back();
        return true;
      }
      if (!IsPair(f.y)) {
        *val = f.kind == FrameKind::kEvery ? Value::True() : Value::Nil();
        frames.pop_back();
        return true;
      }
      Value x = Car(f.y);
      f.y = Cdr(f.y);
      SX_CALL1(f.x, x);
      return false;
    }
    case FrameKind::kReduce: {
      if (!IsPair(f.y)) {
        // The accumulator leaves reduce: a dict built in place is an
        // ordinary value again.
        DictFreeze(*val);
        frames.pop_back();
        return true;
      }
      Value x = Car(f.y);
      f.y = Cdr(f.y);
      SX_CALL2(f.x, *val, x);
      acc_handover_ = true;
      return false;
    }
    case FrameKind::kSortBy: {
      vals.push_back(*val);
      f.y = Cdr(f.y);
      if (IsPair(f.y)) {
        SX_CALL1(f.x, Car(f.y));
        return false;
      }
      size_t b = f.base;  // keys start here; the original list sits at b - 1
      Value l = vals[b - 1];
      std::vector<Value> items;
      for (; IsPair(l); l = Cdr(l)) items.push_back(Car(l));
      std::vector<size_t> order(items.size());
      std::iota(order.begin(), order.end(), 0);
      State& S = S_;
      const Value* keys = vals.data() + b;
      std::stable_sort(order.begin(), order.end(),
                       [&S, keys](size_t i, size_t j) { return Compare(S, keys[i], keys[j]) < 0; });
      std::vector<Value> sorted;
      sorted.reserve(items.size());
      for (size_t i : order) sorted.push_back(items[i]);
      *val = S_.heap.ListFrom(sorted.data(), sorted.size());
      vals.resize(b - 1);
      frames.pop_back();
      return true;
    }
    case FrameKind::kUpdate: {
      *val = DictAssoc(S_.heap, f.x, AsString(f.y), *val);
      frames.pop_back();
      return true;
    }
    default:
      ThrowError(S_, "internal: unexpected frame");
  }
}

}  // namespace sx::interp
