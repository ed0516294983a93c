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

// --- the loop ---------------------------------------------------------------------

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
