// machine.cc — the CEK machine: one loop over nodes (eval) and frames (return).
//
// Registers: `node` (control), `env`, `val`, and `returning` (whether `val`
// is being handed to the top frame). The continuation is `frames`, a vector
// owned by the running Task; operands being gathered for a call sit on the
// task's `vals` stack. Calls push nothing, so tail calls are free.
//
// Operands that are constants, variables, or calls of plain natives on such
// operands (`(- n 1)`, `(< n 2)`) are evaluated directly (MachineLoop::Operand,
// the evaluators of call_cache.cc) without touching the frame stack: most of
// the work of ordinary code takes that path.
//
// Errors thrown by natives (SxThrow) are caught around the loop, never across
// it: the handler unwinds frames to the nearest `guard` and the loop goes on.
// Garbage is collected only at closure entry, where every live value is in a
// register, a frame, or the operand stack.
#include "interp/machine.h"

#include <new>
#include <string>
#include <type_traits>

#include "interp/dict.h"
#include "interp/equal.h"
#include "interp/machine_internal.h"
#include "interp/printer.h"
#include "interp/state.h"

namespace sx::interp {

Machine::Machine(State& S) : S_(S), pool_(std::make_unique<FiberPool>()) {
  oom_error_ = S_.heap.MakeError(S_.heap.MakeString("out of memory"), Value::Nil());
}

Value Machine::OutOfMemory() {
  S_.heap.OnAllocationFailure();
  static_cast<ErrorObj*>(oom_error_.AsObj())->trace = Value::Nil();
  return oom_error_;
}

Machine::~Machine() { DropFibers(); }

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

namespace {

// The simple operands of a direct call, evaluated where they are needed:
// operand k of `call` (its kids[k + 1]) in the caller's frame `env`.
struct Operands {
  MachineLoop& L;
  Node* call;
  Env* env;
  [[gnu::always_inline]] Value operator[](uint32_t k) const {
    return L.Operand(call->kids[k + 1], env);
  }
};

}  // namespace

// Fills the frame of a call of c with argc arguments (arity already
// checked): the caller's own frame `env` when the call is in tail position
// and may overwrite it (CanReuseFrame), else a new one. Slots past the
// parameters start undefined; a rest parameter gets the list of the rest.
// The one way a frame is entered: a direct call passes its simple operands
// (Operands: evaluated here, and they may read the caller's frame), every
// other call the arguments on the operand stack (a pointer).
template <class Args>
[[gnu::always_inline]] inline Env* Machine::EnterFrame(Closure* c, size_t argc, bool tail, Env* env,
                                                       Args args) {
  constexpr bool kOperands = !std::is_pointer_v<Args>;  // a direct call: no rest parameter
  Proto* p = c->proto;
  uint32_t n = kOperands ? static_cast<uint32_t>(argc) : p->nparams;
  Env* e;
  if (tail && CanReuseFrame(env, c)) {
    e = env;
    if constexpr (kOperands) {
      // The operands read the old frame: all of them first. (Left
      // uninitialised: Value's constructor would write nil to all
      // kDirectArgs slots on every call.)
      union Scratch {
        Scratch() {}
        Value v[kDirectArgs];
      } scratch;
      for (uint32_t k = 0; k < n; ++k) scratch.v[k] = args[k];
      e->parent = c->env;
      e->flags &= static_cast<uint16_t>(~kEnvOwnsAcc);
      for (uint32_t k = 0; k < n; ++k) e->slots[k] = scratch.v[k];
    } else {
      e->parent = c->env;
      e->flags &= static_cast<uint16_t>(~kEnvOwnsAcc);
      for (uint32_t k = 0; k < n; ++k) e->slots[k] = args[k];
    }
  } else if (kOperands && n == 1) {
    // One operand, the commonest case, is evaluated before the frame
    // exists: nothing else is live across it.
    Value a0 = args[0];
    e = NewFrame(c);
    e->slots[0] = a0;
  } else {
    // Nothing simple reaches a safe point, so the new frame need not be a
    // root while it fills.
    e = NewFrame(c);
    for (uint32_t k = 0; k < n; ++k) e->slots[k] = args[k];
  }
  for (uint32_t k = n; k < e->size; ++k) e->slots[k] = Value::Undefined();
  if constexpr (!kOperands) {
    if (p->has_rest) e->slots[p->nparams] = S_.heap.ListFrom(args + p->nparams, argc - p->nparams);
  }
  return e;
}

// Enters c's body, its frame `env` complete: the safe point at function
// entry.
[[gnu::always_inline]] inline void Machine::EnterBody(Closure* c, Node*& node, Env* env) {
  node = c->proto->body;
  if (S_.heap.ShouldCollect() || interrupt_) SafePoint(node, env);
}

// A collection with the machine's registers as roots.
void Machine::CollectAt(Node* node, Env* env) {
  reg_node_ = node;
  reg_env_ = env;
  S_.heap.Collect();
  reg_node_ = nullptr;
  reg_env_ = nullptr;
}

// The safe point at a function's entry: an interrupt, or a collection.
void Machine::SafePoint(Node* node, Env* env) {
  if (interrupt_) {
    interrupt_ = 0;
    ThrowError(S_, "interrupted");
  }
  CollectAt(node, env);
}

// --- helpers of the loop ------------------------------------------------------------

namespace {

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

Value CallNativeChecked(State& S, Native* nat, const Value* args, size_t n) {
  return CallNative(S, nat, args, n);
}

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

// --- the loop's steps ----------------------------------------------------------------
//
// Run dispatches on the node kind, the call mode and the frame kind; these
// do the work of one case each, on Run's registers: `node`, `env`, `val`,
// and for a call about to be applied `base` (vals[base] is the function)
// and `tail_call`. Each is inlined into Run.

// (if test then else): a simple test is decided at once, with no frame.
// True when `val` is the result (a branch that is a parameter, the base
// case of a recursion); else `node` is what to evaluate next.
[[gnu::always_inline]] inline bool Machine::EvalIf(MachineLoop& L, Node*& node, Env* env,
                                                   Value& val) {
  Node* test = node->a;
  if (test->kind == NodeKind::kCall) {
    if (test->epoch != S_.global_epoch) Revalidate(S_, test);
    if (test->mode == static_cast<uint8_t>(CallMode::kSimple)) {
      node = test->eval(L, test, env).Truthy() ? node->b : node->c;
      if (node->kind == NodeKind::kParam) {
        val = EnvAt(env, node->depth)->slots[node->index];
        return true;
      }
      return false;
    }
  } else if (test->flags & kSimpleNode) {
    node = L.Operand(test, env).Truthy() ? node->b : node->c;
    return false;
  }
  L.Push(FrameKind::kIf, node, env);
  node = test;
  return false;
}

// (fn ...): a closure over the current frame, which is captured from now on.
[[gnu::always_inline]] inline Value Machine::MakeClosure(Node* node, Env* env) {
  env->flags &= static_cast<uint16_t>(~kEnvReusable);
  Closure* c = S_.heap.New<Closure>(ObjType::kClosure);
  c->proto = static_cast<Proto*>(node->extra);
  c->env = env;
  return Value::Object(c);
}

// A call whose head was an unbound global when compiled (kMaybeMacro): true
// when the head is a macro by now, and the node has become a macro call.
bool Machine::BecameMacroCall(Node* node) {
  Value g = AsSymbol(Car(node->value))->global;
  if (IsType(g, ObjType::kMacro)) {
    node->kind = NodeKind::kMacroCall;
    node->flags &= static_cast<uint16_t>(~(kMaybeMacro | kSimpleNode));
    return true;
  }
  if (!g.IsUndefined()) node->flags &= static_cast<uint16_t>(~kMaybeMacro);
  return false;
}

// CallMode::kDirect: a global closure of fixed arity, every operand simple:
// the operands go straight into its frame, and its body is next.
[[gnu::always_inline]] inline void Machine::CallDirect(MachineLoop& L, Node*& node, Env*& env) {
  auto* c = static_cast<Closure*>(node->callee);
  env = EnterFrame(c, node->nkids - 1, (node->flags & kTailCall) != 0, env, Operands{L, node, env});
  cur_call_ = node;
  EnterBody(c, node, env);
}

// The operands of `node` are all on the operand stack from `base`: the call
// is to be applied.
[[gnu::always_inline]] inline void Machine::ReadyCall(Node* node, bool& tail_call) {
  cur_call_ = node;
  tail_call = (node->flags & kTailCall) != 0;
}

// CallMode::kArgsSimple: every operand at hand without frames.
[[gnu::always_inline]] inline size_t Machine::PushOperands(MachineLoop& L, Node* node, Env* env) {
  size_t base = L.vals.size();
  for (uint32_t k = 0; k < node->nkids; ++k) L.vals.push_back(L.Operand(node->kids[k], env));
  return base;
}

// CallMode::kArith2: (op a b) where op is a FastOp native and an operand
// needs frames; a frame of its own holds a's value (no operand stack).
// Returns the operand to evaluate.
[[gnu::always_inline]] inline Node* Machine::StartArith2(MachineLoop& L, Node* node, Env* env) {
  Value fn = AsSymbol(node->kids[0]->value)->global;
  Node* a = node->kids[1];
  if ((a->flags & kSimpleNode) && CanSimple(S_, a)) {
    L.Push(FrameKind::kArith2, node, env, 2, 0, L.Operand(a, env), fn);
    return node->kids[2];
  }
  L.Push(FrameKind::kArith2, node, env, 1, 0, Value::Nil(), fn);
  return a;
}

// CallMode::kGeneral: the simple operands are pushed; at the first that
// needs frames a kCallArg frame waits for it. True when every operand is
// pushed (the call is to be applied); else `node` is the operand to
// evaluate.
[[gnu::always_inline]] inline bool Machine::StartCall(MachineLoop& L, Node*& node, Env* env,
                                                      size_t& base, bool& tail_call) {
  base = L.vals.size();
  uint32_t i = PushSimpleOperands(S_, L, node, 0, env);
  if (i == node->nkids) {
    ReadyCall(node, tail_call);
    return true;
  }
  L.Push(FrameKind::kCallArg, node, env, i, static_cast<uint32_t>(base));
  node = node->kids[i];
  return false;
}

// A macro call's first run: the macro is applied to the unevaluated
// operands, under a kMacroExpand frame that compiles what it returns.
// Returns the base of the call.
size_t Machine::StartMacroExpand(MachineLoop& L, Node* node, Env* env) {
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
  size_t base = L.vals.size();
  L.vals.push_back(static_cast<Macro*>(macro.AsObj())->fn);
  for (Value p = Cdr(node->value); IsPair(p); p = Cdr(p)) L.vals.push_back(Car(p));
  cur_call_ = node;
  return base;
}

// (import name): a module not imported yet is read, and a kToplevel frame
// runs its forms. The frame keeps the importer's activation: returning to
// it must not take that activation for finished.
void Machine::StartImport(MachineLoop& L, Node* node, Env* env) {
  cur_call_ = node;
  Value forms, file;
  if (Import(node, node->value, &forms, &file)) {
    L.Push(FrameKind::kToplevel, nullptr, env, 0, 0, forms, file);
  }
}

// Applies a closure to the argc arguments at vals[base + 1..]: its frame is
// made and its body is next. `reuse_frame`: a tail call, which may
// overwrite the caller's frame; `handover`: reduce gave up the accumulator
// in the first argument (kEnvOwnsAcc).
[[gnu::always_inline]] inline void Machine::ApplyClosure(MachineLoop& L, Closure* c, size_t base,
                                                         bool reuse_frame, bool handover,
                                                         Node*& node, Env*& env) {
  Proto* p = c->proto;
  size_t argc = L.vals.size() - base - 1;
  if (argc < p->nparams || (!p->has_rest && argc > p->nparams)) {
    ArityError(S_, ProtoName(p).c_str(), static_cast<int>(p->nparams),
               p->has_rest ? -1 : static_cast<int>(p->nparams), argc);
  }
  env = EnterFrame(c, argc, reuse_frame, env, static_cast<const Value*>(L.vals.data() + base + 1));
  if (handover && p->consumes_acc) env->flags |= kEnvOwnsAcc;
  L.vals.resize(base);
  if ((p->body->flags & kLibNode) && cur_call_ != nullptr && !(cur_call_->flags & kLibNode)) {
    NoteLibEntry(cur_call_, L.frames.size());
  }
  EnterBody(c, node, env);
}

// Applies a native to the arguments at vals[base + 1..]: a plain native
// (inline when it is a FastOp on small integers), a native that may
// suspend, `eval`, or a machine operation.
[[gnu::always_inline]] inline Machine::Applied Machine::ApplyNative(MachineLoop& L, Native* nat,
                                                                    size_t base, Env* env,
                                                                    Value& val) {
  auto& vals = L.vals;
  size_t argc = vals.size() - base - 1;
  MachineOp op = OpOf(nat);
  if (op == MachineOp::kNone) {
    if (argc == 2 && nat->flags != kFastNone &&
        FastArith(nat->flags, vals[base + 1], vals[base + 2], &val)) {
      vals.resize(base);
      return Applied::kValue;
    }
    val = CallNative(S_, nat, vals.data() + base + 1, argc);
    vals.resize(base);
    return Applied::kValue;
  }
  if (op >= MachineOp::kFiberNative) {
    Value out = val;  // (a copy: see Recover)
    Susp k = ApplySuspending(L, nat, base, &out);
    val = out;
    if (k == Susp::kFinished) {
      vals.resize(base);
      return Applied::kValue;
    }
    if (k == Susp::kThrew) throw SxThrow{val};
    // A parked fiber's frame keeps its arguments; a task op is done with them.
    if (op != MachineOp::kFiberNative) vals.resize(base);
    return Applied::kSuspended;
  }
  if (op == MachineOp::kEval) {
    if (argc != 1) ArityError(S_, "eval", 1, 1, argc);
    Value forms = EvalForms(vals[base + 1]);
    vals.resize(base);
    L.Push(FrameKind::kToplevel, nullptr, env, 0, 0, forms, S_.heap.MakeString("<eval>"));
    val = Value::Nil();
    return Applied::kValue;
  }
  Value out = val;
  bool finished = ApplyOp(L, nat, base, env, &out);
  val = out;
  if (!finished) return Applied::kCall;
  vals.resize(base);
  return Applied::kValue;
}

// Applies what is neither a closure nor a native: a keyword looks itself up
// in a dict, like `get`; anything else is an error.
Value Machine::ApplyOther(MachineLoop& L, Value fn, size_t base) {
  auto& vals = L.vals;
  size_t argc = vals.size() - base - 1;
  if (IsKeyword(fn)) {
    if (argc < 1 || argc > 2) ThrowError(S_, "keyword call: expected 1 or 2 arguments");
    Value d = vals[base + 1];
    Value r = IsDict(d) ? DictGet(d, AsKeyword(fn)->name) : Value::Undefined();
    Value val = r.IsUndefined() ? (argc == 2 ? vals[base + 2] : Value::Nil()) : r;
    vals.resize(base);
    return val;
  }
  if (IsType(fn, ObjType::kMacro)) {
    ThrowError(S_, "a macro cannot be called as a function: " + Brief(S_, fn) +
                       " (define it before the code that uses it)");
  }
  ThrowError(S_, "not a function: " + Brief(S_, fn));
}

// Returning to another activation's frame: the call whose frame is `env` is
// over (an activation's pending work is always in frames above any frame
// of its caller, and an op's frame has the env of the activation that
// applied the op, so a native callback returning to it is not mistaken for
// a call). When nothing captured that frame, nothing else can reach it (see
// kEnvReusable), and its memory goes back to the heap at once: the next
// call takes it while it is still in cache, and short-lived calls cost the
// collector nothing.
[[gnu::always_inline]] inline void Machine::LeaveFrame(Env* env) {
  if (env != nullptr && (env->flags & (kEnvReusable | kEnvGrown)) == kEnvReusable) {
    S_.heap.Release(env, EnvBytes(env->size));
  }
}

// An operand's value reaches its kCallArg frame: the simple operands after
// it are pushed too. True when the call is to be applied; else `node` is
// the next operand to evaluate.
[[gnu::always_inline]] inline bool Machine::ReturnCallArg(MachineLoop& L, Frame& f, Value val,
                                                          Node*& node, Env*& env, size_t& base,
                                                          bool& tail_call) {
  L.vals.push_back(val);
  node = f.node;
  env = f.env;
  uint32_t i = PushSimpleOperands(S_, L, node, ++f.i, env);
  if (i == node->nkids) {
    base = f.base;
    L.frames.pop_back();
    ReadyCall(node, tail_call);
    return true;
  }
  L.frames.back().i = i;
  node = node->kids[i];
  return false;
}

// An operand of (op a b) (kArith2) is known. True when `val` is the call's
// result; else `node` is b, to evaluate.
[[gnu::always_inline]] inline bool Machine::ReturnArith2(MachineLoop& L, Frame& f, Value& val,
                                                         Node*& node, Env*& env) {
  if (f.i == 1) {
    f.x = val;
    f.i = 2;
    Node* b = f.node->kids[2];
    if (!(b->flags & kSimpleNode) || !CanSimple(S_, b)) {
      node = b;
      env = f.env;
      return false;
    }
    val = L.Operand(b, f.env);
  }
  Value x = f.x;
  Native* nat = AsNative(f.y);
  Node* call = f.node;
  L.frames.pop_back();
  if (!FastArith(nat->flags, x, val, &val)) {
    Value argv[2] = {x, val};
    cur_call_ = call;
    val = CallNative(S_, nat, argv, 2);
  }
  return true;
}

// Every value of a dict literal is on the operand stack, from the frame's
// base: the dict. Pops the frame.
Value Machine::MakeDictLit(MachineLoop& L, const Frame& f) {
  auto& vals = L.vals;
  Node* node = f.node;
  size_t b = f.base;
  L.frames.pop_back();
  Value d = DictEmpty(S_.heap);
  size_t j = b;
  for (Value k = node->value; IsPair(k); k = Cdr(k), ++j) {
    d = DictAssoc(S_.heap, d, AsString(Car(k)), vals[j]);
  }
  vals.resize(b);
  return d;
}

// The next kid of a kSeq, kAnd or kOr frame, which is popped before its
// last kid runs (that kid is in the frame's tail position).
[[gnu::always_inline]] inline Node* Machine::NextKid(MachineLoop& L, Frame& f, Env*& env) {
  Node* n = f.node;
  env = f.env;
  uint32_t i = f.i++;
  if (i + 1 == n->nkids) L.frames.pop_back();
  return n->kids[i];
}

// (set! local v) and (define local v) inside a function: a closure defined
// under a name takes the name.
void Machine::ReturnSetLocal(MachineLoop& L, const Frame& f, Value val) {
  Node* n = f.node;
  Env* e = EnvAt(f.env, n->depth);
  L.frames.pop_back();
  if (IsType(val, ObjType::kClosure) && (n->flags & kDefineNode)) {
    Proto* p = static_cast<Closure*>(val.AsObj())->proto;
    if (p->name.IsNil()) p->name = n->value;
  }
  SetSlot(S_.heap, e, n->index, val);
}

// (set! global v): the global must exist. Moves the global epoch on.
void Machine::ReturnSetGlobal(MachineLoop& L, const Frame& f, Value val) {
  Symbol* s = AsSymbol(f.node->value);
  cur_call_ = f.node;
  L.frames.pop_back();
  if (s->global.IsUndefined()) {
    ThrowError(S_, "set!: " + Brief(S_, Value::Object(s)) + " is not defined");
  }
  s->global = val;
  S_.global_epoch++;
}

// (define global v) or (define-macro name fn). Moves the global epoch on.
void Machine::ReturnDefGlobal(MachineLoop& L, const Frame& f, Value val) {
  Node* n = f.node;
  Symbol* s = AsSymbol(n->value);
  L.frames.pop_back();
  if (n->kind == NodeKind::kDefMacro) {
    Macro* mac = S_.heap.New<Macro>(ObjType::kMacro);
    mac->fn = val;
    s->global = Value::Object(mac);
  } else {
    s->global = val;
  }
  S_.global_epoch++;
}

// A macro returned its expansion: compiled in the scope of the call, kept
// on the node for the next run, and returned to evaluate.
Node* Machine::ReturnMacroExpand(MachineLoop& L, const Frame& f, Value val) {
  Node* n = f.node;
  L.frames.pop_back();
  cur_call_ = n;
  Node* expansion = CompileInScope(S_, val, static_cast<Scope*>(n->extra), n->file, n->line, n->col,
                                   (n->flags & kTailCall) != 0, n->index + 1);
  n->a = expansion;
  return expansion;
}

// (case key (keys body) ... (:else body)): the body whose keys hold the
// key's value `val`, or nullptr when none does (the case is nil).
Node* Machine::ReturnCase(MachineLoop& L, const Frame& f, Value val) {
  Node* n = f.node;
  L.frames.pop_back();
  uint32_t i = 0;
  for (Value c = n->value; IsPair(c); c = Cdr(c), ++i) {
    Value keys = Car(c);
    if (keys == Value::Object(S_.kw_else)) return n->kids[i];
    for (Value k = keys; IsPair(k); k = Cdr(k)) {
      if (Equal(Car(k), val)) return n->kids[i];
    }
  }
  return nullptr;
}

// (load path): the path is known; the file's forms run under a kToplevel
// frame.
void Machine::ReturnLoadPath(MachineLoop& L, const Frame& f, Value path, Env* env) {
  Node* n = f.node;
  L.frames.pop_back();
  cur_call_ = n;
  if (!IsString(path)) ThrowError(S_, "load: the path must be a string, got " + Brief(S_, path));
  Value forms, file;
  LoadFile(n, path, &forms, &file);
  L.Push(FrameKind::kToplevel, nullptr, env, 0, 0, forms, file);
}

// A kToplevel frame with forms left: the next one is compiled, becomes the
// frame's node (for backtraces) and runs next, in the frame returned.
Env* Machine::NextToplevelForm(Frame& f) {
  const Pair* cell = AsPair(f.x);
  f.x = Cdr(f.x);
  Proto* proto;
  f.node = CompileToplevel(S_, cell->car, f.y, &proto, PosLine(cell), PosCol(cell));
  return NewEnv(nullptr, proto->frame_size);
}

// A kFiberWait frame: the parked native's callback continues on its fiber
// with `v` (raised into it when `error`). Returns the native's result, or
// with *suspended set the callback's next request.
Value Machine::ReturnFiberWait(MachineLoop& L, const Frame& f, bool error, Value v,
                               bool* suspended) {
  Value out;
  Susp k = ResumeFiber(f.i, error, v, &out);
  *suspended = k == Susp::kSuspended;
  if (*suspended) return out;
  L.vals.resize(L.frames.back().base);
  L.frames.pop_back();
  if (k == Susp::kThrew) throw SxThrow{out};
  return out;
}

// An error raised in the loop: unwinds to the nearest guard, whose handler
// is next (`node`, in `env`). False when there is none. (Through copies:
// a register whose address is taken could not stay in a machine register;
// for the same reason the loop hands the ops and fibers copies of `val`.)
[[gnu::always_inline]] inline bool Machine::Recover(MachineLoop& L, Value err, Node*& node,
                                                    Env*& env) {
  Node* at = node;
  Env* in = env;
  if (!Unwind(L, err, &at, &in)) return false;
  node = at;
  env = in;
  return true;
}

// --- the loop -------------------------------------------------------------------------

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
  // How a run that stops ends.
  auto suspend = [&](Value request) {
    t->state = kTaskSuspended;
    return RunResult{RunStatus::kSuspended, request};
  };
  auto done = [&](RunStatus status, Value v) {
    t->state = kTaskDone;
    return RunResult{status, v};
  };

  for (;;) {
    try {
      if (!pending.IsUndefined()) {
        Value e = pending;
        pending = Value::Undefined();
        throw SxThrow{e};
      }
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
        case NodeKind::kIf:
          if (EvalIf(L, node, env, val)) goto do_return;
          goto do_eval;
        case NodeKind::kSeq:
          L.Push(FrameKind::kSeq, node, env, 1);
          node = node->kids[0];
          goto do_eval;
        case NodeKind::kAnd:
        case NodeKind::kOr:
          L.Push(node->kind == NodeKind::kAnd ? FrameKind::kAnd : FrameKind::kOr, node, env, 1);
          node = node->kids[0];
          goto do_eval;
        case NodeKind::kLambda:
          val = MakeClosure(node, env);
          goto do_return;
        case NodeKind::kCall:
          if ((node->flags & kMaybeMacro) && BecameMacroCall(node)) goto do_eval;
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
            case CallMode::kDirect:
              CallDirect(L, node, env);
              goto do_eval;
            case CallMode::kArgsSimple:
              base = PushOperands(L, node, env);
              ReadyCall(node, tail_call);
              goto do_apply;
            case CallMode::kArith2:
              node = StartArith2(L, node, env);
              goto do_eval;
            case CallMode::kGeneral:
              break;
          }
          if (StartCall(L, node, env, base, tail_call)) goto do_apply;
          goto do_eval;
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
        case NodeKind::kMacroCall:
          if (node->a != nullptr) {  // expanded already
            node = node->a;
            goto do_eval;
          }
          base = StartMacroExpand(L, node, env);
          goto do_apply;
        case NodeKind::kCase:
          L.Push(FrameKind::kCase, node, env);
          node = node->a;
          goto do_eval;
        case NodeKind::kLoad:
          L.Push(FrameKind::kLoadPath, node, env);
          node = node->a;
          goto do_eval;
        case NodeKind::kImport:
          StartImport(L, node, env);
          val = Value::Nil();
          goto do_return;
      }

    do_apply : {
      // vals[base] is the function, vals[base+1..] the arguments. A tail
      // call may reuse the caller's frame, this once.
      bool reuse_frame = tail_call;
      tail_call = false;
      bool handover = acc_handover_;
      acc_handover_ = false;
      Value fn = vals[base];
      if (IsType(fn, ObjType::kClosure)) {
        ApplyClosure(L, static_cast<Closure*>(fn.AsObj()), base, reuse_frame, handover, node, env);
        goto do_eval;
      }
      if (IsType(fn, ObjType::kNative)) {
        switch (ApplyNative(L, AsNative(fn), base, env, val)) {
          case Applied::kValue:
            goto do_return;
          case Applied::kCall:  // a machine operation set up a call at vals[op_base_]
            base = op_base_;
            goto do_apply;
          case Applied::kSuspended:
            t->at = cur_call_;
            return suspend(val);
        }
      }
      val = ApplyOther(L, fn, base);
      goto do_return;
    }

    do_return:
      if (frames.empty()) return done(RunStatus::kDone, val);
      {
        Frame& f = frames.back();
        // From here on `env` is the frame's activation, so a frame that
        // finishes without setting it passes its own on.
        if (env != f.env) {
          LeaveFrame(env);
          env = f.env;
        }
        switch (f.kind) {
          case FrameKind::kCallArg:
            if (ReturnCallArg(L, f, val, node, env, base, tail_call)) goto do_apply;
            goto do_eval;
          case FrameKind::kArith2:
            if (ReturnArith2(L, f, val, node, env)) goto do_return;
            goto do_eval;
          case FrameKind::kDictLit:
            vals.push_back(val);
            node = f.node;
            env = f.env;
            if (++f.i < node->nkids) {
              node = node->kids[f.i];
              goto do_eval;
            }
            val = MakeDictLit(L, f);
            goto do_return;
          case FrameKind::kIf:
            node = val.Truthy() ? f.node->b : f.node->c;
            env = f.env;
            frames.pop_back();
            goto do_eval;
          case FrameKind::kSeq:
            node = NextKid(L, f, env);
            goto do_eval;
          case FrameKind::kAnd:
          case FrameKind::kOr:
            if (val.Truthy() != (f.kind == FrameKind::kAnd)) {  // decided
              frames.pop_back();
              goto do_return;
            }
            node = NextKid(L, f, env);
            goto do_eval;
          case FrameKind::kSetLocal:
            ReturnSetLocal(L, f, val);
            val = Value::Nil();
            goto do_return;
          case FrameKind::kSetGlobal:
            ReturnSetGlobal(L, f, val);
            val = Value::Nil();
            goto do_return;
          case FrameKind::kDefGlobal:
            ReturnDefGlobal(L, f, val);
            val = Value::Nil();
            goto do_return;
          case FrameKind::kGuard:
            frames.pop_back();
            goto do_return;
          case FrameKind::kPerform:
            // An error answering the request is raised here.
            cur_call_ = t->at = f.node;
            frames.pop_back();
            return suspend(val);
          case FrameKind::kMacroExpand:
            env = f.env;
            node = ReturnMacroExpand(L, f, val);
            goto do_eval;
          case FrameKind::kCase:
            env = f.env;
            node = ReturnCase(L, f, val);
            if (node != nullptr) goto do_eval;
            val = Value::Nil();
            goto do_return;
          case FrameKind::kLoadPath:
            ReturnLoadPath(L, f, val, env);
            val = Value::Nil();
            goto do_return;
          case FrameKind::kToplevel:
            if (!IsPair(f.x)) {
              frames.pop_back();
              goto do_return;  // the value of the last form
            }
            env = NextToplevelForm(f);
            node = frames.back().node;
            goto do_eval;
          case FrameKind::kBarrier:
            frames.pop_back();
            return done(RunStatus::kDone, val);
          case FrameKind::kFiberWait: {
            bool error = fiber_error;
            fiber_error = false;
            bool suspended;
            val = ReturnFiberWait(L, f, error, val, &suspended);
            if (suspended) {
              t->at = cur_call_;
              return suspend(val);
            }
            goto do_return;
          }
          default: {          // a machine operation's frame
            Value out = val;  // the value returned to the op's frame, then its result
            bool finished = OpReturn(L, &out);
            val = out;
            if (!finished) {
              base = op_base_;
              goto do_apply;
            }
            goto do_return;
          }
        }
      }
    } catch (SxThrow& e) {
      if (!Recover(L, e.value, node, env)) return done(RunStatus::kError, e.value);
      returning = false;
    } catch (std::bad_alloc&) {
      Value err = OutOfMemory();
      if (!Recover(L, err, node, env)) return done(RunStatus::kError, err);
      // The guard's handler is about to run, and what the failed code held
      // is garbage now: collect it first, as at a safe point (every live
      // value is in the frames or the registers).
      CollectAt(node, env);
      returning = false;
    }
  }
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

}  // namespace sx::interp
