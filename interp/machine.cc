// machine.cc — the CEK machine: one loop over nodes (eval) and frames (return).
//
// Registers: `node` (control), `env`, `val`, and `returning` (whether `val`
// is being handed to the top frame). The continuation is `frames`, a vector
// owned by the running Task; operands being gathered for a call sit on the
// task's `vals` stack. Calls push nothing, so tail calls are free.
//
// Operands that are constants, variables, or calls of plain natives on such
// operands (`(- n 1)`, `(< n 2)`) are evaluated directly by EvalSimple without
// touching the frame stack: most of the work of ordinary code takes that path.
//
// Errors thrown by natives (SxThrow) are caught around the loop, never across
// it: the handler unwinds frames to the nearest `guard` and the loop goes on.
// Garbage is collected only at closure entry, where every live value is in a
// register, a frame, or the operand stack.
#include "interp/machine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "interp/dict.h"
#include "interp/equal.h"
#include "interp/machine_internal.h"
#include "interp/printer.h"
#include "interp/reader.h"
#include "interp/state.h"

namespace sx::interp {

namespace {

constexpr size_t kMaxTrace = 12;
// The backtrace line that stands for frames left out.
constexpr std::string_view kTraceGap = "...";

// Copies the reader's position table into the list cells themselves
// (line in `aux`, column in `flags`), where the compiler looks for them.
}  // namespace

void StampPositions(State& S, const Reader& r) {
  uint16_t file = S.FileId(r.filename());
  for (const auto& [obj, pos] : r.positions()) {
    Obj* o = const_cast<Obj*>(obj);
    if (o->type != ObjType::kPair) continue;
    o->aux = (std::min<uint32_t>(pos.line, 0xFFFFF) << 12) | std::min<uint32_t>(pos.col, 0xFFF);
    o->flags = file;
  }
}

namespace {

std::string NodeWhere(Node* n) {
  std::string s;
  if (n == nullptr) return s;
  if (IsString(n->file)) s = std::string(StringView(n->file));
  if (n->line == 0) return s.empty() ? "<unknown>" : s;  // a form built, not read
  s += ':';
  s += std::to_string(n->line);
  s += ':';
  s += std::to_string(n->col);
  return s;
}

}  // namespace

// --- types ----------------------------------------------------------------------

void RegisterMachineTypes(Heap& heap) {
  heap.SetTracer(ObjType::kNode, [](Heap& h, Obj* o) {
    auto* n = static_cast<Node*>(o);
    h.Mark(n->value);
    h.Mark(n->file);
    h.MarkObj(n->extra);
    h.MarkObj(n->a);
    h.MarkObj(n->b);
    h.MarkObj(n->c);
    h.MarkObj(n->callee);
    h.MarkObj(n->fn);
    for (uint32_t i = 0; i < n->nkids; ++i) h.MarkObj(n->kids[i]);
  });
  heap.SetTracer(ObjType::kProto, [](Heap& h, Obj* o) {
    auto* p = static_cast<Proto*>(o);
    h.MarkObj(p->body);
    h.Mark(p->name);
    h.Mark(p->doc);
    h.Mark(p->file);
  });
  heap.SetTracer(ObjType::kEnv, [](Heap& h, Obj* o) {
    auto* e = static_cast<Env*>(o);
    h.MarkObj(e->parent);
    for (uint32_t i = 0; i < e->size; ++i) h.Mark(e->slots[i]);
    if (e->flags & kEnvGrown) h.Mark(e->inline_slots[0]);  // the slots' storage (SetSlot)
  });
  heap.SetTracer(ObjType::kClosure, [](Heap& h, Obj* o) {
    auto* c = static_cast<Closure*>(o);
    h.MarkObj(c->proto);
    h.MarkObj(c->env);
  });
  heap.SetTracer(ObjType::kMacro, [](Heap& h, Obj* o) { h.Mark(static_cast<Macro*>(o)->fn); });
  heap.SetTracer(ObjType::kScope, [](Heap& h, Obj* o) {
    auto* s = static_cast<Scope*>(o);
    h.MarkObj(s->next);
    h.MarkObj(s->name);
    h.MarkObj(s->proto);
  });
  heap.SetTracer(ObjType::kTask, [](Heap& h, Obj* o) {
    auto* t = static_cast<Task*>(o);
    for (const Frame& f : *t->frames) {
      h.MarkObj(f.node);
      h.MarkObj(f.env);
      h.Mark(f.x);
      h.Mark(f.y);
    }
    for (Value v : *t->vals) h.Mark(v);
    h.Mark(t->result);
    h.Mark(t->request);
    h.Mark(t->resume);
    h.Mark(t->op_arg);
    h.MarkObj(t->at);
    if (t->waiters != nullptr) {
      for (Task* w : *t->waiters) h.MarkObj(w);
    }
  });
  heap.SetFinalizer(ObjType::kTask, [](Obj* o) {
    auto* t = static_cast<Task*>(o);
    delete t->frames;
    delete t->vals;
    delete t->waiters;
  });
}

Machine::Machine(State& S) : S_(S), pool_(std::make_unique<FiberPool>()) {
  oom_error_ = S_.heap.MakeError(S_.heap.MakeString("out of memory"), Value::Nil());
}

Value Machine::OutOfMemory() {
  S_.heap.OnAllocationFailure();
  static_cast<ErrorObj*>(oom_error_.AsObj())->trace = Value::Nil();
  return oom_error_;
}

Machine::~Machine() { DropFibers(); }

Task* Machine::NewTask() {
  Task* t = S_.heap.New<Task>(ObjType::kTask);
  t->frames = nullptr;
  t->vals = nullptr;
  t->waiters = nullptr;
  t->state = kTaskReady;
  t->sched = kSchedNone;
  t->resume_kind = kResumeStart;
  t->task_op = kTaskOpNone;
  t->failed = false;
  t->gen = 0;
  t->result = t->request = t->resume = t->op_arg = Value::Nil();
  t->wake_ns = 0;
  t->at = nullptr;
  t->frames = new FrameStack();
  t->vals = new ValueStack();
  t->frames->reserve(64);
  return t;
}

Env* Machine::NewEnv(Env* parent, uint32_t size) {
  size_t extra = size > 1 ? (size - 1) * sizeof(Value) : 0;
  Env* e = static_cast<Env*>(S_.heap.AllocateRaw(ObjType::kEnv, sizeof(Env) + extra));
  e->flags = 0;
  e->parent = parent;
  e->slots = e->inline_slots;
  e->size = size;
  for (uint32_t i = 0; i < size; ++i) e->slots[i] = Value::Undefined();
  return e;
}

// The frame for a call of c with argc arguments (arity already checked).
// A tail call may overwrite the caller's frame `env` when nothing else can
// see it any more (see kEnvReusable).
// Can a tail call from the activation whose frame is `env` overwrite that
// frame for a call of c? Only when nothing captured it (kEnvReusable), it has
// the right size, and it is not c's own defining frame.
inline bool CanReuseFrame(Env* env, Closure* c) {
  return (env->flags & kEnvReusable) && env->size == c->proto->frame_size && env != c->env;
}

// The bytes of a frame of `size` slots.
inline size_t EnvBytes(uint32_t size) {
  return sizeof(Env) + (size > 1 ? (size - 1) * sizeof(Value) : 0);
}

// A new frame for a call of c; its slots are the caller's to fill.
inline Env* Machine::NewFrame(Closure* c) {
  uint32_t size = c->proto->frame_size;
  auto* e = static_cast<Env*>(S_.heap.AllocateRaw(ObjType::kEnv, EnvBytes(size)));
  e->flags = kEnvReusable;
  e->parent = c->env;
  e->slots = e->inline_slots;
  e->size = size;
  return e;
}

inline Env* Machine::EnterClosure(Closure* c, const Value* args, size_t argc, bool tail, Env* env) {
  Proto* p = c->proto;
  Env* e;
  if (tail && CanReuseFrame(env, c)) {
    e = env;
    e->parent = c->env;
    e->flags &= static_cast<uint16_t>(~kEnvOwnsAcc);
  } else {
    e = NewFrame(c);
  }
  for (uint32_t i = 0; i < p->nparams; ++i) e->slots[i] = args[i];
  for (uint32_t i = p->nparams; i < e->size; ++i) e->slots[i] = Value::Undefined();
  if (p->has_rest) e->slots[p->nparams] = S_.heap.ListFrom(args + p->nparams, argc - p->nparams);
  return e;
}

// The safe point at a function's entry: an interrupt, or a collection with
// the machine's registers as roots.
void Machine::SafePoint(Node* node, Env* env) {
  if (interrupt_) {
    interrupt_ = 0;
    ThrowError(S_, "interrupted");
  }
  reg_node_ = node;
  reg_env_ = env;
  S_.heap.Collect();
  reg_node_ = nullptr;
  reg_env_ = nullptr;
}

void Machine::MarkRoots(Heap& h) {
  h.MarkObj(task_);
  for (Task* t : task_stack_) h.MarkObj(t);
  h.MarkObj(cur_call_);
  h.MarkObj(lib_entry_);
  h.MarkObj(lib_entry_task_);
  h.Mark(oom_error_);
  h.MarkObj(reg_node_);
  h.MarkObj(reg_env_);
  for (const auto& [id, fc] : fiber_calls_) {
    h.MarkObj(fc->outer);
    h.MarkObj(fc->inner);
    h.Mark(fc->request);
    h.Mark(fc->result);
    h.Mark(fc->resume_value);
    for (Value v : fc->args) h.Mark(v);
  }
  for (const auto& [id, t] : live_) h.MarkObj(t);
  for (Task* t : ready_) h.MarkObj(t);
  for (Task* t : sleepers_) h.MarkObj(t);
  h.MarkObj(main_);
  h.Mark(main_result_.value);
}

// --- errors ---------------------------------------------------------------------

std::string Machine::FormatError(Value err) {
  std::string out;
  Value trace = Value::EmptyList();
  if (IsError(err)) {
    auto* e = static_cast<ErrorObj*>(err.AsObj());
    trace = e->trace;
    // The headline names the innermost place outside the library: the
    // user's line that led into it.
    std::string where;
    for (Value p = trace; IsPair(p); p = Cdr(p)) {
      if (!IsString(Car(p)) || StringView(Car(p)) == kTraceGap) continue;
      std::string_view at = StringView(Car(p));
      if (where.empty() || at.substr(0, kLibraryPrefix.size()) != kLibraryPrefix) {
        where = std::string(at.substr(0, at.find(' ')));
        if (at.substr(0, kLibraryPrefix.size()) != kLibraryPrefix) break;
      }
    }
    if (!where.empty()) out += where + ": ";
    out += "error: ";
    out += IsString(e->message) ? std::string(StringView(e->message)) : Inspect(S_, e->message);
    if (!e->data.IsNil()) out += "\n  data: " + Brief(S_, e->data);
  } else {
    out += "error: uncaught raise of " + Brief(S_, err);
  }
  for (Value p = trace; IsPair(p); p = Cdr(p)) {
    if (!IsString(Car(p))) continue;
    std::string_view at = StringView(Car(p));
    out += at == kTraceGap ? "\n  ..." : "\n  at " + std::string(at);
  }
  return out;
}

// --- the loop ---------------------------------------------------------------------

namespace {

// --- evaluators of simple calls ---------------------------------------------
//
// A simple call is evaluated by a function chosen for it (Node::eval): the
// general one walks the operands and calls the native; a FastOp native on two
// operands gets one specialised for the op and for the shape of each operand
// (a parameter of the current frame, a small-integer constant whose tag need
// not be checked, another constant, or anything else), so that
// `(+ i 1)` is a few loads, an add and a range check.

enum class Shape { kAny, kParam0, kConst, kSmallConst };  // kSmallConst last: see kShapes

Shape ShapeOf(Node* k) {
  if (k->kind == NodeKind::kParam && k->depth == 0) return Shape::kParam0;
  if (k->kind == NodeKind::kConst)
    return k->value.IsSmallInt() ? Shape::kSmallConst : Shape::kConst;
  return Shape::kAny;
}

template <Shape s>
[[gnu::always_inline]] inline Value Fetch(MachineLoop& L, Node* k, Env* env) {
  if constexpr (s == Shape::kParam0) {
    return env->slots[k->index];
  } else if constexpr (s == Shape::kConst || s == Shape::kSmallConst) {
    return k->value;
  } else {
    return L.Operand(k, env);
  }
}

template <uint16_t op, Shape sa, Shape sb>
Value ArithFn(MachineLoop& L, Node* n, Env* env) {
  Value x = Fetch<sa>(L, n->kids[1], env);
  Value y = Fetch<sb>(L, n->kids[2], env);
  if ((sa == Shape::kSmallConst || x.IsSmallInt()) &&
      (sb == Shape::kSmallConst || y.IsSmallInt())) {
    int64_t a = x.AsSmallInt(), b = y.AsSmallInt();
    int64_t r;
    if constexpr (op == kFastLt) return Value::Bool(a < b);
    if constexpr (op == kFastGt) return Value::Bool(a > b);
    if constexpr (op == kFastLe) return Value::Bool(a <= b);
    if constexpr (op == kFastGe) return Value::Bool(a >= b);
    if constexpr (op == kFastEq) return Value::Bool(a == b);
    if constexpr (op == kFastAdd) r = a + b;  // both fit in 48 bits: no overflow
    if constexpr (op == kFastSub) r = a - b;
    if constexpr (op == kFastMul) {
      if (__builtin_mul_overflow(a, b, &r)) return L.ArithSlow(n, x, y);
    }
    if (Value::FitsSmall(r)) return Value::SmallInt(r);
  }
  return L.ArithSlow(n, x, y);
}

Value SimpleCallFn(MachineLoop& L, Node* n, Env* env) { return L.Simple(n, env); }

// (assoc acc k v ...) in a reduce callback that uses its accumulator for
// nothing else (kAccConsumer). When this frame was handed the accumulator
// (kEnvOwnsAcc) and the result goes straight back to reduce, the dict is
// updated in place; otherwise this is the ordinary call.
Value AccAssocFn(MachineLoop& L, Node* n, Env* env) {
  if (!(env->flags & kEnvOwnsAcc) || L.frames.empty() ||
      L.frames.back().kind != FrameKind::kReduce) {
    return L.Simple(n, env);
  }
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  size_t base = L.vals.size();
  for (uint32_t i = 1; i < n->nkids; ++i) {
    Value v = L.Operand(n->kids[i], env);
    L.vals.push_back(v);
  }
  L.cur_call = n;
  Value r = AssocIntoAccumulator(
      Args{L.S, nat->spec->name, L.vals.data() + base, static_cast<int>(n->nkids - 1), nat->user});
  L.vals.resize(base);
  return r;
}

// Every specialised evaluator, indexed by op (from kFastAdd) and the shapes
// of the two operands.
constexpr size_t kShapes = static_cast<size_t>(Shape::kSmallConst) + 1;
constexpr size_t kFastOps = kFastEq - kFastAdd + 1;

template <size_t... I>
constexpr std::array<SimpleFn, sizeof...(I)> ArithFns(std::index_sequence<I...>) {
  return {&ArithFn<static_cast<uint16_t>(kFastAdd + I / (kShapes * kShapes)),
                   static_cast<Shape>(I / kShapes % kShapes), static_cast<Shape>(I % kShapes)>...};
}
constexpr auto kArithFns = ArithFns(std::make_index_sequence<kFastOps * kShapes * kShapes>());

// The evaluator of a call that is simple at the current epoch.
SimpleFn ChooseSimpleFn(Node* n) {
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  if ((n->flags & kAccConsumer) && IsAssocNative(nat)) return &AccAssocFn;
  uint16_t op = nat->flags;
  if (n->nkids != 3 || op < kFastAdd || op > kFastEq) return &SimpleCallFn;
  size_t sa = static_cast<size_t>(ShapeOf(n->kids[1]));
  size_t sb = static_cast<size_t>(ShapeOf(n->kids[2]));
  return kArithFns[((op - kFastAdd) * kShapes + sa) * kShapes + sb];
}

// Recomputes how a call runs (its CallMode, evaluator and callee) for the
// current global epoch. Any global definition moves the epoch on, so the
// answer holds exactly as long as the bindings it was drawn from.
void Revalidate(State& S, Node* n);

// Is this simple expression (flagged kSimpleNode) still free of frames: is
// every operator in it a plain native?
inline bool CanSimple(State& S, Node* n) {
  if (n->kind != NodeKind::kCall) return true;
  if (n->epoch != S.global_epoch) Revalidate(S, n);
  return n->mode == static_cast<uint8_t>(CallMode::kSimple);
}

void Revalidate(State& S, Node* n) {
  bool args_simple = true;  // the operator and every operand evaluate without frames
  for (uint32_t i = 0; i < n->nkids && args_simple; ++i) {
    Node* k = n->kids[i];
    args_simple = (k->flags & kSimpleNode) && CanSimple(S, k);
  }
  Node* head = n->kids[0];
  Value g = head->kind == NodeKind::kGlobal ? AsSymbol(head->value)->global : Value::Undefined();
  bool plain_native = IsType(g, ObjType::kNative) && OpOf(AsNative(g)) == MachineOp::kNone;
  uint32_t argc = n->nkids - 1;
  CallMode mode = CallMode::kGeneral;
  n->callee = nullptr;
  // kSimpleNode implies the operator is a global.
  if (args_simple && (n->flags & kSimpleNode) && plain_native) {
    mode = CallMode::kSimple;
  } else if (args_simple) {
    mode = CallMode::kArgsSimple;
    if (IsType(g, ObjType::kClosure)) {
      auto* c = static_cast<Closure*>(g.AsObj());
      if (!c->proto->has_rest && c->proto->nparams == argc && argc <= kDirectArgs) {
        mode = CallMode::kDirect;
        n->callee = c;
        if (!(n->flags & kLibNode) && (c->proto->body->flags & kLibNode)) {
          mode = CallMode::kDirectLib;
        }
      }
    }
  } else if (argc == 2 && plain_native && AsNative(g)->flags != kFastNone) {
    mode = CallMode::kArith2;
  }
  n->mode = static_cast<uint8_t>(mode);
  n->eval = mode == CallMode::kSimple ? ChooseSimpleFn(n) : nullptr;
  n->epoch = S.global_epoch;
}

// Evaluates the call's operands from `i` on while they are simple, pushing
// their values; returns the index of the first that needs a frame (or nkids).
[[gnu::always_inline]] inline uint32_t PushSimpleOperands(State& S, MachineLoop& L, Node* call,
                                                          uint32_t i, Env* env) {
  for (; i < call->nkids; ++i) {
    Node* k = call->kids[i];
    if (!(k->flags & kSimpleNode) || !CanSimple(S, k)) break;
    Value v = L.Operand(k, env);
    L.vals.push_back(v);
  }
  return i;
}

[[noreturn]] void ArityError(State& S, const char* name, int min, int max, size_t got) {
  std::string want;
  if (max < 0) {
    want = "at least " + std::to_string(min);
  } else if (min == max) {
    want = std::to_string(min);
  } else {
    want = std::to_string(min) + " to " + std::to_string(max);
  }
  ThrowError(S, std::string(name) + ": expected " + want + " argument" + (want == "1" ? "" : "s") +
                    ", got " + std::to_string(got));
}

inline Value CallNative(State& S, Native* nat, const Value* args, size_t n) {
  const NativeSpec* spec = nat->spec;
  if (static_cast<int>(n) < spec->min_args ||
      (spec->max_args >= 0 && static_cast<int>(n) > spec->max_args)) {
    ArityError(S, spec->name, spec->min_args, spec->max_args, n);
  }
  return nat->fn(Args{S, spec->name, args, static_cast<int>(n), nat->user});
}

}  // namespace

Value CallNativeChecked(State& S, Native* nat, const Value* args, size_t n) {
  return CallNative(S, nat, args, n);
}

namespace {

std::string ProtoName(Proto* p) {
  return IsSymbol(p->name) ? std::string(AsSymbol(p->name)->name->View()) : "fn";
}

// A macro call made by max_macro_depth expansions within expansions: a
// macro that expands into itself would otherwise grow without end.
[[noreturn, gnu::cold, gnu::noinline]] void ThrowMacroTooDeep(State& S, Node* n) {
  ThrowError(S, "macro expansion deeper than " + std::to_string(S.limits.max_macro_depth) + ": " +
                    Brief(S, n->value) + " keeps expanding into macro calls");
}

}  // namespace

void MachineLoop::ThrowUsedBeforeDefined(Node* n) {
  cur_call = n;
  ThrowError(S, Brief(S, n->value) + " is used before it is defined");
}

void MachineLoop::ThrowUnbound(Node* n) {
  cur_call = n;
  ThrowError(S, "unbound symbol: " + Brief(S, n->value));
}

void MachineLoop::ThrowOverflow() {
  ThrowError(S, "stack overflow: more than " + std::to_string(S.limits.max_frames) +
                    " frames (deep non-tail recursion?)");
}

Value MachineLoop::ArithSlow(Node* n, Value x, Value y) {
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  Value argv[2] = {x, y};
  cur_call = n;
  return CallNative(S, nat, argv, 2);
}

// A call of a plain native on simple operands (the caller checked CanSimple).
Value MachineLoop::Simple(Node* n, Env* env) {
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  uint32_t argc = n->nkids - 1;
  if (argc == 2) {
    Value argv[2] = {Operand(n->kids[1], env), Operand(n->kids[2], env)};
    Value r;
    if (nat->flags != kFastNone && FastArith(nat->flags, argv[0], argv[1], &r)) return r;
    cur_call = n;
    return CallNative(S, nat, argv, 2);
  }
  size_t base = vals.size();
  for (uint32_t i = 1; i < n->nkids; ++i) {
    Value v = Operand(n->kids[i], env);
    vals.push_back(v);
  }
  cur_call = n;
  Value r = CallNative(S, nat, vals.data() + base, argc);
  vals.resize(base);
  return r;
}

RunResult Machine::Run(Entry entry, Value val, Node* node, Env* env) {
  Task* t = task_;
  t->state = kTaskRunning;
  t->gen++;  // any token issued for the last suspension is spent
  // A new task has no call yet; a resumed one continues where it stopped,
  // whatever other tasks have run meanwhile.
  cur_call_ = t->at;
  MachineLoop L(S_, *this, t, cur_call_);
  auto& frames = L.frames;
  auto& vals = L.vals;
  bool returning = entry == Entry::kReturn;
  bool applying = entry == Entry::kApply;
  // kThrow: raise `val` at the suspension point.
  Value pending = entry == Entry::kThrow ? val : Value::Undefined();

  // Operands of a call being applied: vals[base] is the function.
  size_t base = 0;
  // The call being applied is in tail position (see kEnvReusable).
  bool tail_call = false;
  // The value reaching a kFiberWait frame is an error to raise in the fiber.
  bool fiber_error = false;
  if (!pending.IsUndefined() && !frames.empty() && frames.back().kind == FrameKind::kFiberWait) {
    fiber_error = true;
    returning = true;
    pending = Value::Undefined();
  }

  for (;;) {
    try {
      if (!pending.IsUndefined()) {
        Value e = pending;
        pending = Value::Undefined();
        throw SxThrow{e};
      }
      for (;;) {
        if (applying) {
          applying = false;
          goto do_apply;
        }
        if (returning) goto do_return;

      do_eval:
        switch (node->kind) {
          case NodeKind::kConst:
            val = node->value;
            goto do_return;
          case NodeKind::kParam:
            val = EnvAt(env, node->depth)->slots[node->index];
            goto do_return;
          case NodeKind::kLocal:
            val = L.LocalValue(node, env);
            goto do_return;
          case NodeKind::kGlobal:
            val = L.GlobalValue(node);
            goto do_return;
          case NodeKind::kIf: {
            Node* test = node->a;
            if (test->kind == NodeKind::kCall) {
              if (test->epoch != S_.global_epoch) Revalidate(S_, test);
              if (test->mode == static_cast<uint8_t>(CallMode::kSimple)) {
                node = test->eval(L, test, env).Truthy() ? node->b : node->c;
                if (node->kind == NodeKind::kParam) {  // a base case returning an argument
                  val = EnvAt(env, node->depth)->slots[node->index];
                  goto do_return;
                }
                goto do_eval;
              }
            } else if (test->flags & kSimpleNode) {
              node = L.Operand(test, env).Truthy() ? node->b : node->c;
              goto do_eval;
            }
            L.Push(FrameKind::kIf, node, env);
            node = test;
            goto do_eval;
          }
          case NodeKind::kSeq:
            L.Push(FrameKind::kSeq, node, env, 1);
            node = node->kids[0];
            goto do_eval;
          case NodeKind::kAnd:
          case NodeKind::kOr:
            L.Push(node->kind == NodeKind::kAnd ? FrameKind::kAnd : FrameKind::kOr, node, env, 1);
            node = node->kids[0];
            goto do_eval;
          case NodeKind::kLambda: {
            env->flags &= static_cast<uint16_t>(~kEnvReusable);  // captured from now on
            Closure* c = S_.heap.New<Closure>(ObjType::kClosure);
            c->proto = static_cast<Proto*>(node->extra);
            c->env = env;
            val = Value::Object(c);
            goto do_return;
          }
          case NodeKind::kCall: {
            if (node->flags & kMaybeMacro) {
              Value g = AsSymbol(Car(node->value))->global;
              if (IsType(g, ObjType::kMacro)) {
                node->kind = NodeKind::kMacroCall;
                node->flags &= static_cast<uint16_t>(~(kMaybeMacro | kSimpleNode));
                goto do_eval;
              }
              if (!g.IsUndefined()) node->flags &= static_cast<uint16_t>(~kMaybeMacro);
            }
            if (node->epoch != S_.global_epoch) Revalidate(S_, node);
            switch (static_cast<CallMode>(node->mode)) {
              case CallMode::kSimple:
                val = node->eval(L, node, env);
                goto do_return;
              case CallMode::kDirectLib:
                // A call from the user's code into the library: noted for
                // backtraces (a mode of its own keeps kDirect's path bare).
                NoteLibEntry(node, frames.size());
                [[fallthrough]];
              case CallMode::kDirect: {
                // A global closure of fixed arity, every operand simple:
                // the operands go straight into its frame.
                auto* c = static_cast<Closure*>(node->callee);
                uint32_t argc = node->nkids - 1;
                if ((node->flags & kTailCall) && CanReuseFrame(env, c)) {
                  // The operands read the old frame: all of them first.
                  // (Left uninitialised: Value's constructor would write nil
                  // to all kDirectArgs slots on every call.)
                  union Scratch {
                    Scratch() {}
                    Value v[kDirectArgs];
                  } args;
                  for (uint32_t k = 0; k < argc; ++k) args.v[k] = L.Operand(node->kids[k + 1], env);
                  env->parent = c->env;
                  env->flags &= static_cast<uint16_t>(~kEnvOwnsAcc);
                  for (uint32_t k = 0; k < argc; ++k) env->slots[k] = args.v[k];
                  for (uint32_t k = argc; k < env->size; ++k) env->slots[k] = Value::Undefined();
                } else {
                  // Nothing simple reaches a safe point, so the new frame
                  // need not be a root while it fills.
                  // One operand, the commonest case, is evaluated before
                  // the frame exists: nothing else is live across it.
                  Env* e;
                  if (argc == 1) {
                    Value a0 = L.Operand(node->kids[1], env);
                    e = NewFrame(c);
                    e->slots[0] = a0;
                  } else {
                    e = NewFrame(c);
                    for (uint32_t k = 0; k < argc; ++k)
                      e->slots[k] = L.Operand(node->kids[k + 1], env);
                  }
                  for (uint32_t k = argc; k < e->size; ++k) e->slots[k] = Value::Undefined();
                  env = e;
                }
                cur_call_ = node;
                node = c->proto->body;
                if (S_.heap.ShouldCollect() || interrupt_) SafePoint(node, env);
                goto do_eval;
              }
              case CallMode::kArgsSimple: {
                // Every operand is at hand without frames.
                base = vals.size();
                for (uint32_t k = 0; k < node->nkids; ++k)
                  vals.push_back(L.Operand(node->kids[k], env));
                cur_call_ = node;
                tail_call = (node->flags & kTailCall) != 0;
                goto do_apply;
              }
              case CallMode::kArith2: {
                // (op a b) where op is a FastOp native and an operand needs
                // frames: a frame of its own holds a's value, no operand stack.
                Value fn = AsSymbol(node->kids[0]->value)->global;
                Node* a = node->kids[1];
                if ((a->flags & kSimpleNode) && CanSimple(S_, a)) {
                  L.Push(FrameKind::kArith2, node, env, 2, 0, L.Operand(a, env), fn);
                  node = node->kids[2];
                } else {
                  L.Push(FrameKind::kArith2, node, env, 1, 0, Value::Nil(), fn);
                  node = a;
                }
                goto do_eval;
              }
              case CallMode::kGeneral:
                break;
            }
            base = vals.size();
            uint32_t i = PushSimpleOperands(S_, L, node, 0, env);
            if (i == node->nkids) {
              cur_call_ = node;
              tail_call = (node->flags & kTailCall) != 0;
              goto do_apply;
            }
            L.Push(FrameKind::kCallArg, node, env, i, static_cast<uint32_t>(base));
            node = node->kids[i];
            goto do_eval;
          }
          case NodeKind::kDictLit:
            L.Push(FrameKind::kDictLit, node, env, 0, static_cast<uint32_t>(vals.size()));
            node = node->kids[0];
            goto do_eval;
          case NodeKind::kSetLocal:
            L.Push(FrameKind::kSetLocal, node, env);
            node = node->a;
            goto do_eval;
          case NodeKind::kSetGlobal:
            L.Push(FrameKind::kSetGlobal, node, env);
            node = node->a;
            goto do_eval;
          case NodeKind::kDefGlobal:
          case NodeKind::kDefMacro:
            L.Push(FrameKind::kDefGlobal, node, env);
            node = node->a;
            goto do_eval;
          case NodeKind::kGuard:
            L.Push(FrameKind::kGuard, node, env, 0, static_cast<uint32_t>(vals.size()));
            node = node->a;
            goto do_eval;
          case NodeKind::kReraise:
            throw SxThrow{env->slots[node->index]};
          case NodeKind::kPerform:
            L.Push(FrameKind::kPerform, node, env);
            node = node->a;
            goto do_eval;
          case NodeKind::kMacroCall: {
            if (node->a != nullptr) {
              node = node->a;
              goto do_eval;
            }
            Value macro = AsSymbol(Car(node->value))->global;
            if (!IsType(macro, ObjType::kMacro)) {
              cur_call_ = node;
              ThrowError(S_, Brief(S_, Car(node->value)) + " is no longer a macro");
            }
            if (node->index >= S_.limits.max_macro_depth) {
              cur_call_ = node;
              ThrowMacroTooDeep(S_, node);
            }
            L.Push(FrameKind::kMacroExpand, node, env);
            base = vals.size();
            vals.push_back(static_cast<Macro*>(macro.AsObj())->fn);
            for (Value p = Cdr(node->value); IsPair(p); p = Cdr(p)) vals.push_back(Car(p));
            cur_call_ = node;
            goto do_apply;
          }
          case NodeKind::kCase:
            L.Push(FrameKind::kCase, node, env);
            node = node->a;
            goto do_eval;
          case NodeKind::kLoad:
            L.Push(FrameKind::kLoadPath, node, env);
            node = node->a;
            goto do_eval;
          case NodeKind::kImport: {
            cur_call_ = node;
            Value forms, file;
            if (!Import(node, node->value, &forms, &file)) {
              val = Value::Nil();
              goto do_return;
            }
            // The frame keeps the importer's activation: returning to it
            // must not take that activation for finished.
            L.Push(FrameKind::kToplevel, nullptr, env, 0, 0, forms, file);
            val = Value::Nil();
            goto do_return;
          }
        }

      do_apply : {
        // vals[base] is the function, vals[base+1..] the arguments.
        // A tail call may reuse the caller's frame, this once.
        bool reuse_frame = tail_call;
        tail_call = false;
        bool handover = acc_handover_;
        acc_handover_ = false;
        Value fn = vals[base];
        size_t argc = vals.size() - base - 1;
        if (IsType(fn, ObjType::kClosure)) {
          Closure* c = static_cast<Closure*>(fn.AsObj());
          Proto* p = c->proto;
          if (argc < p->nparams || (!p->has_rest && argc > p->nparams)) {
            ArityError(S_, ProtoName(p).c_str(), static_cast<int>(p->nparams),
                       p->has_rest ? -1 : static_cast<int>(p->nparams), argc);
          }
          env = EnterClosure(c, vals.data() + base + 1, argc, reuse_frame, env);
          if (handover && p->consumes_acc) env->flags |= kEnvOwnsAcc;
          vals.resize(base);
          node = p->body;
          if ((node->flags & kLibNode) && cur_call_ != nullptr && !(cur_call_->flags & kLibNode)) {
            NoteLibEntry(cur_call_, frames.size());
          }
          if (S_.heap.ShouldCollect() || interrupt_) SafePoint(node, env);
          goto do_eval;
        }
        if (IsType(fn, ObjType::kNative)) {
          Native* nat = AsNative(fn);
          if (OpOf(nat) == MachineOp::kNone) {
            if (argc == 2 && nat->flags != kFastNone &&
                FastArith(nat->flags, vals[base + 1], vals[base + 2], &val)) {
              vals.resize(base);
              goto do_return;
            }
            val = CallNative(S_, nat, vals.data() + base + 1, argc);
            vals.resize(base);
            goto do_return;
          }
          if (OpOf(nat) >= MachineOp::kFiberNative) {
            Susp k = ApplySuspending(L, nat, base, &val);
            if (k == Susp::kFinished) {
              vals.resize(base);
              goto do_return;
            }
            if (k == Susp::kThrew) throw SxThrow{val};
            // A parked fiber's frame keeps its arguments; a task op is done with them.
            if (OpOf(nat) != MachineOp::kFiberNative) vals.resize(base);
            t->state = kTaskSuspended;
            t->at = cur_call_;
            return RunResult{RunStatus::kSuspended, val};
          }
          if (OpOf(nat) == MachineOp::kEval) {
            if (argc != 1) ArityError(S_, "eval", 1, 1, argc);
            Value forms = EvalForms(vals[base + 1]);
            vals.resize(base);
            L.Push(FrameKind::kToplevel, nullptr, env, 0, 0, forms, S_.heap.MakeString("<eval>"));
            val = Value::Nil();
            goto do_return;
          }
          if (!ApplyOp(L, nat, base, env, &val)) goto do_apply_again;
          vals.resize(base);
          goto do_return;
        }
        if (IsKeyword(fn)) {
          // (:key dict) looks the key up, like `get`.
          if (argc < 1 || argc > 2) ThrowError(S_, "keyword call: expected 1 or 2 arguments");
          Value d = vals[base + 1];
          Value r = IsDict(d) ? DictGet(d, AsKeyword(fn)->name) : Value::Undefined();
          val = r.IsUndefined() ? (argc == 2 ? vals[base + 2] : Value::Nil()) : r;
          vals.resize(base);
          goto do_return;
        }
        if (IsType(fn, ObjType::kMacro)) {
          ThrowError(S_, "a macro cannot be called as a function: " + Brief(S_, fn) +
                             " (define it before the code that uses it)");
        }
        ThrowError(S_, "not a function: " + Brief(S_, fn));
      }

      do_apply_again:
        // ApplyOp set up a new call at vals[base..].
        base = op_base_;
        goto do_apply;

      do_return:
        if (frames.empty()) {
          t->state = kTaskDone;
          return RunResult{RunStatus::kDone, val};
        }
        {
          Frame& f = frames.back();
          // Returning to another activation's frame: the call whose frame
          // is `env` is over (an activation's pending work is always in
          // frames above any frame of its caller, and an op's frame has the
          // env of the activation that applied the op, so a native callback
          // returning to it is not mistaken for a call). When nothing captured
          // that frame, nothing else can reach it (see kEnvReusable), and
          // its memory goes back to the heap at once: the next call takes
          // it while it is still in cache, and short-lived calls cost the
          // collector nothing. From here on `env` is the frame's activation,
          // so a frame that finishes without setting it passes its own on.
          if (env != f.env) {
            if (env != nullptr && (env->flags & (kEnvReusable | kEnvGrown)) == kEnvReusable) {
              S_.heap.Release(env, EnvBytes(env->size));
            }
            env = f.env;
          }
          switch (f.kind) {
            case FrameKind::kCallArg: {
              vals.push_back(val);
              node = f.node;
              env = f.env;
              uint32_t i = PushSimpleOperands(S_, L, node, ++f.i, env);
              if (i == node->nkids) {
                base = f.base;
                frames.pop_back();
                cur_call_ = node;
                tail_call = (node->flags & kTailCall) != 0;
                goto do_apply;
              }
              frames.back().i = i;
              node = node->kids[i];
              goto do_eval;
            }
            case FrameKind::kArith2: {
              if (f.i == 1) {
                f.x = val;
                f.i = 2;
                Node* b = f.node->kids[2];
                if (!(b->flags & kSimpleNode) || !CanSimple(S_, b)) {
                  node = b;
                  env = f.env;
                  goto do_eval;
                }
                val = L.Operand(b, f.env);
              }
              Value x = f.x;
              Native* nat = AsNative(f.y);
              Node* call = f.node;
              frames.pop_back();
              if (!FastArith(nat->flags, x, val, &val)) {
                Value argv[2] = {x, val};
                cur_call_ = call;
                val = CallNative(S_, nat, argv, 2);
              }
              goto do_return;
            }
            case FrameKind::kDictLit: {
              vals.push_back(val);
              node = f.node;
              env = f.env;
              uint32_t i = ++f.i;
              if (i < node->nkids) {
                node = node->kids[i];
                goto do_eval;
              }
              size_t b = f.base;
              frames.pop_back();
              Value d = DictEmpty(S_.heap);
              size_t j = b;
              for (Value k = node->value; IsPair(k); k = Cdr(k), ++j) {
                d = DictAssoc(S_.heap, d, AsString(Car(k)), vals[j]);
              }
              vals.resize(b);
              val = d;
              goto do_return;
            }
            case FrameKind::kIf:
              node = val.Truthy() ? f.node->b : f.node->c;
              env = f.env;
              frames.pop_back();
              goto do_eval;
            case FrameKind::kSeq: {
              node = f.node;
              env = f.env;
              uint32_t i = f.i++;
              if (i + 1 == node->nkids) frames.pop_back();
              node = node->kids[i];
              goto do_eval;
            }
            case FrameKind::kAnd:
            case FrameKind::kOr: {
              bool is_and = f.kind == FrameKind::kAnd;
              if (val.Truthy() != is_and) {
                frames.pop_back();
                goto do_return;
              }
              node = f.node;
              env = f.env;
              uint32_t i = f.i++;
              if (i + 1 == node->nkids) frames.pop_back();
              node = node->kids[i];
              goto do_eval;
            }
            case FrameKind::kSetLocal: {
              Node* n = f.node;
              Env* e = EnvAt(f.env, n->depth);
              frames.pop_back();
              if (IsType(val, ObjType::kClosure) && (n->flags & kDefineNode)) {
                Proto* p = static_cast<Closure*>(val.AsObj())->proto;
                if (p->name.IsNil()) p->name = n->value;
              }
              SetSlot(S_.heap, e, n->index, val);
              val = Value::Nil();
              goto do_return;
            }
            case FrameKind::kSetGlobal: {
              Symbol* s = AsSymbol(f.node->value);
              cur_call_ = f.node;
              frames.pop_back();
              if (s->global.IsUndefined()) {
                ThrowError(S_, "set!: " + Brief(S_, Value::Object(s)) + " is not defined");
              }
              s->global = val;
              S_.global_epoch++;
              val = Value::Nil();
              goto do_return;
            }
            case FrameKind::kDefGlobal: {
              Node* n = f.node;
              Symbol* s = AsSymbol(n->value);
              frames.pop_back();
              if (n->kind == NodeKind::kDefMacro) {
                Macro* mac = S_.heap.New<Macro>(ObjType::kMacro);
                mac->fn = val;
                s->global = Value::Object(mac);
              } else {
                s->global = val;
              }
              S_.global_epoch++;
              val = Value::Nil();
              goto do_return;
            }
            case FrameKind::kGuard:
              frames.pop_back();
              goto do_return;
            case FrameKind::kPerform:
              // An error answering the request is raised here.
              cur_call_ = t->at = f.node;
              frames.pop_back();
              t->state = kTaskSuspended;
              return RunResult{RunStatus::kSuspended, val};
            case FrameKind::kMacroExpand: {
              Node* n = f.node;
              env = f.env;
              frames.pop_back();
              cur_call_ = n;
              Node* expansion =
                  CompileInScope(S_, val, static_cast<Scope*>(n->extra), n->file, n->line, n->col,
                                 (n->flags & kTailCall) != 0, n->index + 1);
              n->a = expansion;
              node = expansion;
              goto do_eval;
            }
            case FrameKind::kCase: {
              Node* n = f.node;
              env = f.env;
              frames.pop_back();
              uint32_t i = 0;
              for (Value c = n->value; IsPair(c); c = Cdr(c), ++i) {
                Value keys = Car(c);
                if (keys == Value::Object(S_.kw_else)) {
                  node = n->kids[i];
                  goto do_eval;
                }
                for (Value k = keys; IsPair(k); k = Cdr(k)) {
                  if (Equal(Car(k), val)) {
                    node = n->kids[i];
                    goto do_eval;
                  }
                }
              }
              val = Value::Nil();
              goto do_return;
            }
            case FrameKind::kLoadPath: {
              Node* n = f.node;
              frames.pop_back();
              cur_call_ = n;
              if (!IsString(val))
                ThrowError(S_, "load: the path must be a string, got " + Brief(S_, val));
              Value forms, file;
              LoadFile(n, val, &forms, &file);
              L.Push(FrameKind::kToplevel, nullptr, env, 0, 0, forms, file);
              val = Value::Nil();
              goto do_return;
            }
            case FrameKind::kToplevel: {
              if (!IsPair(f.x)) {
                frames.pop_back();
                goto do_return;  // the value of the last form
              }
              const Pair* cell = AsPair(f.x);
              f.x = Cdr(f.x);
              Proto* proto;
              node = CompileToplevel(S_, cell->car, f.y, &proto, PosLine(cell), PosCol(cell));
              frames.back().node = node;  // the form being run, for backtraces
              env = NewEnv(nullptr, proto->frame_size);
              goto do_eval;
            }
            case FrameKind::kBarrier:
              frames.pop_back();
              t->state = kTaskDone;
              return RunResult{RunStatus::kDone, val};
            case FrameKind::kFiberWait: {
              // Continue the parked native's callback on its fiber.
              bool err = fiber_error;
              fiber_error = false;
              Value out;
              Susp k = ResumeFiber(f.i, err, val, &out);
              if (k == Susp::kSuspended) {
                t->state = kTaskSuspended;
                t->at = cur_call_;
                return RunResult{RunStatus::kSuspended, out};
              }
              vals.resize(frames.back().base);
              frames.pop_back();
              if (k == Susp::kThrew) throw SxThrow{out};
              val = out;
              goto do_return;
            }
            default:
              if (!OpReturn(L, &val)) {
                base = op_base_;
                goto do_apply;
              }
              goto do_return;
          }
        }
      }
    } catch (SxThrow& e) {
      if (!Unwind(L, e.value, &node, &env)) {
        t->state = kTaskDone;
        return RunResult{RunStatus::kError, e.value};
      }
      returning = false;
    } catch (std::bad_alloc&) {
      Value err = OutOfMemory();
      if (!Unwind(L, err, &node, &env)) {
        t->state = kTaskDone;
        return RunResult{RunStatus::kError, err};
      }
      // The guard's handler is about to run, and what the failed code held
      // is garbage now: collect it first, as at a safe point (every live
      // value is in the frames or the registers).
      reg_node_ = node;
      reg_env_ = env;
      S_.heap.Collect();
      reg_node_ = nullptr;
      reg_env_ = nullptr;
      returning = false;
    }
  }
}

namespace {

// The sub-expression a frame is waiting on: where its activation stands.
Node* FrameAt(const Frame& f) {
  Node* n = f.node;
  if (n == nullptr) return nullptr;
  switch (f.kind) {
    case FrameKind::kCallArg:
    case FrameKind::kArith2:
    case FrameKind::kDictLit:
      return f.i < n->nkids ? n->kids[f.i] : n;
    case FrameKind::kSeq:
    case FrameKind::kAnd:
    case FrameKind::kOr:
      return f.i >= 1 && f.i <= n->nkids ? n->kids[f.i - 1] : n;
    case FrameKind::kIf:
    case FrameKind::kSetLocal:
    case FrameKind::kSetGlobal:
    case FrameKind::kDefGlobal:
    case FrameKind::kPerform:
    case FrameKind::kCase:
    case FrameKind::kLoadPath:
    case FrameKind::kGuard:
      return n->a != nullptr ? n->a : n;
    default:
      return n;
  }
}

bool InLibrary(const Node* n) { return (n->flags & kLibNode) != 0; }

// One line of a backtrace: the place, and the function unless the code is
// a top-level form.
std::string TraceLine(const Node* n) {
  std::string s = NodeWhere(const_cast<Node*>(n));
  const Proto* p = n->fn;
  if (p != nullptr && !(p->flags & kProtoToplevel)) {
    s += " in ";
    s += IsSymbol(p->name) ? std::string(AsSymbol(p->name)->name->View()) : "fn";
  }
  return s;
}

}  // namespace

// Walks the continuation from the innermost place out: one line per
// activation (frames of one activation share its Env; frames of machine
// operations, which have none, join the activation of the same function
// next to them). Tail calls leave no frame, so the last call from outside
// the library into it (lib_entry_) is put back where the library's frames
// end, when the frame count says it belongs there.
Value Machine::Backtrace(MachineLoop& L, Env* env) {
  auto& frames = L.frames;
  std::vector<Value> trace;
  Node* last_at = nullptr;
  const Proto* last_fn = nullptr;
  Env* last_env = nullptr;
  bool in_lib = false;
  bool user_seen = false;  // a line in the user's code is in the trace
  bool entry_used = lib_entry_ == nullptr || lib_entry_task_ != task_;
  auto add = [&](Node* at, Env* e) {
    if (at == nullptr) return;
    bool same = last_at != nullptr && at->fn == last_fn &&
                (e == last_env || e == nullptr || last_env == nullptr);
    if (!same && trace.size() >= kMaxTrace && !user_seen && !InLibrary(at)) {
      // However deep the library's frames, the headline needs the first
      // place in the user's code: the frames between are left out.
      trace.push_back(S_.heap.MakeString(kTraceGap));
      trace.push_back(S_.heap.MakeString(TraceLine(at)));
      user_seen = true;
    } else if (!same && trace.size() < kMaxTrace) {
      trace.push_back(S_.heap.MakeString(TraceLine(at)));
      user_seen = user_seen || !InLibrary(at);
    }
    if (!same || last_env == nullptr) last_env = e;
    last_at = at;
    last_fn = at->fn;
    in_lib = InLibrary(at);
  };
  // Where the library's frames give way to the caller's, at frame count `depth`.
  auto entry = [&](size_t depth) {
    if (entry_used || !in_lib) return;
    entry_used = true;
    if (lib_entry_depth_ == depth) add(lib_entry_, nullptr);
  };
  add(cur_call_, env);
  for (size_t k = frames.size(); k-- > 0;) {
    const Frame& f = frames[k];
    if (f.kind == FrameKind::kBarrier || (trace.size() >= kMaxTrace && user_seen)) break;
    Node* at = FrameAt(f);
    if (at == nullptr) continue;
    if (!InLibrary(at)) entry(k + 1);
    add(at, f.env);
  }
  entry(0);
  return S_.heap.ListFrom(trace.data(), trace.size());
}

// Pops frames up to the nearest guard. Returns false when there is none (the
// error ends the run). Records where the error happened on first raise.
bool Machine::Unwind(MachineLoop& L, Value err, Node** node, Env** env) {
  auto& frames = L.frames;
  auto& vals = L.vals;
  if (IsError(err) && !IsPair(static_cast<ErrorObj*>(err.AsObj())->trace)) {
    // The trace is a nicety: when memory has run out it is left unrecorded,
    // and the error still reaches its guard.
    try {
      Value trace = Backtrace(L, *env);
      static_cast<ErrorObj*>(err.AsObj())->trace = trace;
    } catch (std::bad_alloc&) {
    }
  }
  bool found = false;
  while (!frames.empty()) {
    Frame f = frames.back();
    if (f.kind == FrameKind::kBarrier) break;
    frames.pop_back();
    if (f.kind == FrameKind::kGuard) {
      vals.resize(f.base);
      try {
        SetSlot(S_.heap, f.env, f.node->index, err);
      } catch (std::bad_alloc&) {
        continue;  // no room to bind the error here: on to an outer guard
      }
      *env = f.env;
      *node = f.node->b;
      found = true;
      break;
    }
  }
  if (!found) {
    // Leave the stack as it was below any barrier.
    while (!frames.empty() && frames.back().kind != FrameKind::kBarrier) frames.pop_back();
  }
  return found;
}

// --- loading ---------------------------------------------------------------------

namespace {

Value ReadAll(State& S, std::string_view text, const std::string& file) {
  Reader r(S, file);
  r.Feed(text);
  r.Finish();
  std::vector<Value> forms;
  std::vector<SrcPos> places;
  for (;;) {
    Value v;
    Reader::Status st = r.Next(&v);
    if (st == Reader::Status::kValue) {
      forms.push_back(v);
      places.push_back(r.form_pos());
      continue;
    }
    if (st == Reader::Status::kError) {
      const ReadError& e = r.error();
      std::string where = file + ":" + std::to_string(e.pos.line) + ":" + std::to_string(e.pos.col);
      Value err = S.heap.MakeError(S.heap.MakeString(e.message), Value::Nil());
      static_cast<ErrorObj*>(err.AsObj())->trace =
          S.heap.Cons(S.heap.MakeString(where), Value::EmptyList());
      throw SxThrow{err};
    }
    break;
  }
  StampPositions(S, r);
  // Each cell of the list of forms carries its form's place, as a list's
  // first cell does (an atom at top level has no cell of its own).
  Value list = S.heap.ListFrom(forms.data(), forms.size());
  uint16_t id = S.FileId(file);
  size_t i = 0;
  for (Value p = list; IsPair(p); p = Cdr(p), ++i) {
    Obj* cell = p.AsObj();
    cell->aux = (std::min<uint32_t>(places[i].line, 0xFFFFF) << 12) |
                std::min<uint32_t>(places[i].col, 0xFFF);
    cell->flags = id;
  }
  return list;
}

}  // namespace

bool ReadSourceFile(const std::string& path, std::string* out, std::string* why) {
  // O_NONBLOCK: opening a FIFO with no writer must not wait for one.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *why = std::strerror(errno);
    return false;
  }
  struct stat st;
  bool ok = fstat(fd, &st) == 0;
  if (!ok) {
    *why = std::strerror(errno);
  } else if (S_ISDIR(st.st_mode)) {
    *why = "it is a directory";
    ok = false;
  } else if (!S_ISREG(st.st_mode)) {
    *why = "not a regular file";
    ok = false;
  }
  out->clear();
  char buf[65536];
  while (ok) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      *why = std::strerror(errno);
      ok = false;
    }
  }
  close(fd);
  return ok;
}

Value ParseSource(State& S, std::string_view text, const std::string& file) {
  return ReadAll(S, text, file);
}

namespace {

// The folder of a source file's name, "" for code that did not come from a
// file ("<eval>", "<repl>") or from the library.
std::string FolderOf(Value file) {
  if (!IsString(file) || IsLibraryFile(file)) return "";
  std::string_view f = StringView(file);
  if (!f.empty() && f[0] == '<') return "";
  size_t slash = f.rfind('/');
  return slash == std::string_view::npos ? "." : std::string(f.substr(0, slash));
}

}  // namespace

// A relative path is looked for beside the loading file, then in the
// working directory.
void Machine::LoadFile(Node* at, Value path_value, Value* forms, Value* file) {
  std::string path(StringView(path_value));
  if (!path.empty() && path[0] != '/') {
    // Whatever is found beside the file is what is meant, even when it
    // cannot be read (a directory): then that is the error to report.
    std::string folder = FolderOf(at->file);
    std::string beside = folder + "/" + path;
    if (!folder.empty() && folder != "." && access(beside.c_str(), F_OK) == 0) path = beside;
  }
  std::string text, why;
  if (!ReadSourceFile(path, &text, &why)) {
    ThrowError(S_, "load: cannot read " + BriefText(path) + ": " + why);
  }
  *forms = ReadAll(S_, text, path);
  *file = S_.heap.MakeString(path);
}

// `import` looks in the importing file's folder, then in each search path
// directory (SX_PATH), then asks the module loader (the built-in stdlib).
// Code that is not from a file ("<eval>", "<repl>") and library modules
// have no folder of their own.
bool Machine::Import(Node* at, Value name_value, Value* forms, Value* file) {
  std::string name(StringView(name_value));
  if (imported_.count(name)) return false;
  std::vector<std::string> dirs;
  std::string folder = FolderOf(at->file);
  if (!folder.empty()) dirs.push_back(folder);
  dirs.insert(dirs.end(), S_.search_path.begin(), S_.search_path.end());
  std::string text;
  std::string path;
  bool found = false;
  for (const std::string& dir : dirs) {
    path = dir + "/" + name + ".sx";
    std::string why;
    if (ReadSourceFile(path, &text, &why)) {
      found = true;
      break;
    }
  }
  if (!found && S_.module_loader && S_.module_loader(name, &text)) {
    path = std::string(kLibraryPrefix) + name + ".sx";
    found = true;
  }
  if (!found) {
    std::string looked;
    for (const std::string& dir : dirs) looked += dir + "/, ";
    ThrowError(S_, "import: no module named " + BriefText(name) + " (looked in " + looked +
                       "and the built-in library)");
  }
  imported_.insert(name);
  *forms = ReadAll(S_, text, path);
  *file = S_.heap.MakeString(path);
  return true;
}

Value Machine::EvalForms(Value x) {
  if (IsString(x)) return ReadAll(S_, StringView(x), "<eval>");
  return S_.heap.Cons(x, Value::EmptyList());
}

// --- entry points -------------------------------------------------------------------

void Machine::Start(Task* t) {
  if (task_ != nullptr && task_->state != kTaskDone) task_stack_.push_back(task_);
  task_ = t;
}

// Back to the run that was suspended beneath the current one, if any.
void Machine::PopTask() {
  if (task_stack_.empty()) {
    task_ = nullptr;
    return;
  }
  task_ = task_stack_.back();
  task_stack_.pop_back();
}

RunResult Machine::Finish(RunResult r) {
  if (r.status != RunStatus::kSuspended) PopTask();
  return r;
}

Task* Machine::StartTask() {
  try {
    Task* t = NewTask();
    Start(t);
    return t;
  } catch (std::bad_alloc&) {
    return nullptr;
  }
}

RunResult Machine::RunToplevel(Value forms, Value file) {
  Task* t = StartTask();
  if (t == nullptr) return RunResult{RunStatus::kError, OutOfMemory()};
  t->frames->push_back(Frame{FrameKind::kToplevel, 0, 0, nullptr, nullptr, forms, file});
  return Finish(Run(Entry::kReturn, Value::Nil(), nullptr, nullptr));
}

RunResult Machine::Call(Value fn, const Value* args, size_t n) {
  Task* t = StartTask();
  if (t == nullptr) return RunResult{RunStatus::kError, OutOfMemory()};
  try {
    t->vals->push_back(fn);
    for (size_t i = 0; i < n; ++i) t->vals->push_back(args[i]);
  } catch (std::bad_alloc&) {
    t->state = kTaskDone;
    return Finish(RunResult{RunStatus::kError, OutOfMemory()});
  }
  return Finish(Run(Entry::kApply, Value::Nil(), nullptr, nullptr));
}

RunResult Machine::Resume(Value v) {
  if (!suspended()) {
    return RunResult{
        RunStatus::kError,
        S_.heap.MakeError(S_.heap.MakeString("resume: nothing is suspended"), Value::Nil())};
  }
  return Finish(Run(Entry::kReturn, v, nullptr, nullptr));
}

RunResult Machine::ResumeError(Value error) {
  if (!suspended()) {
    return RunResult{
        RunStatus::kError,
        S_.heap.MakeError(S_.heap.MakeString("resume: nothing is suspended"), Value::Nil())};
  }
  return Finish(Run(Entry::kThrow, error, nullptr, nullptr));
}

void Machine::Abort() {
  if (task_ != nullptr) {
    CancelFibers(task_);
    task_->state = kTaskDone;
    task_->frames->clear();
    task_->vals->clear();
  }
  Finish(RunResult{RunStatus::kError, Value::Nil()});
}

}  // namespace sx::interp
